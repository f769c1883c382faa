//! Input rules shared by the server (which enforces them) and the web app (which shows them
//! as the user types), so the two can never disagree.

/// A broken rule: which field, a stable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl RuleViolation {
    fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 32;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const EMAIL_MAX_CHARS: usize = 254;

/// 3–32 characters of `[A-Za-z0-9_]`.
pub fn check_username(username: &str) -> Result<(), RuleViolation> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !username.chars().all(allowed) {
        return Err(RuleViolation::new(
            "username",
            "invalid_username",
            "username may contain only letters A-Z, digits and underscores",
        ));
    }
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&username.len()) {
        return Err(RuleViolation::new(
            "username",
            "invalid_username",
            format!(
                "username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long"
            ),
        ));
    }
    Ok(())
}

/// 8–128 characters with at least one letter and one digit.
pub fn check_password(password: &str) -> Result<(), RuleViolation> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(RuleViolation::new(
            "password",
            "weak_password",
            format!(
                "password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"
            ),
        ));
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(RuleViolation::new(
            "password",
            "weak_password",
            "password must contain at least one letter and one digit",
        ));
    }
    Ok(())
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Deliverability is not our business; typos like `bob@localhost` or `bob@@x.org` are.
pub fn check_email(email: &str) -> Result<(), RuleViolation> {
    let invalid = || RuleViolation::new("email", "invalid_email", "email is not a valid address");
    if email.chars().count() > EMAIL_MAX_CHARS || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "Alice_99", &"a".repeat(32)] {
            assert_eq!(check_username(ok), Ok(()), "{ok}");
        }
        for bad in ["ab", &"a".repeat(33), "with space", "한국어", "dash-ed", ""] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(check_password("abcdefg1"), Ok(()));
        assert_eq!(check_password("비밀번호비밀번호1"), Ok(()));
        for bad in [
            "abcdefgh",
            "12345678",
            "abc1",
            &format!("a1{}", "x".repeat(127)),
        ] {
            assert!(check_password(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(check_email("bob@example.org"), Ok(()));
        for bad in [
            "bob",
            "bob@",
            "@x.org",
            "bob@localhost",
            "bob@@x.org",
            "b ob@x.org",
            "bob@x..org",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
