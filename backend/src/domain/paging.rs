//! `?limit=&page=` paging: limit 1–200 (default 50), pages from 1.

use troupe_types::rules::RuleViolation;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub fn parse(limit: Option<i64>, page: Option<i64>) -> Result<Self, RuleViolation> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(violation("limit", format!("limit must be 1 to {MAX_LIMIT}")));
        }
        let page = page.unwrap_or(1);
        if page < 1 {
            return Err(violation("page", "page starts at 1".into()));
        }
        Ok(Self { limit, offset: (page - 1).saturating_mul(limit) })
    }
}

fn violation(field: &'static str, message: String) -> RuleViolation {
    RuleViolation { field, code: "invalid_parameter", message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::parse(None, None).unwrap(), Page { limit: 50, offset: 0 });
        assert_eq!(Page::parse(Some(10), Some(3)).unwrap(), Page { limit: 10, offset: 20 });
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(Some(201), None).is_err());
        assert!(Page::parse(None, Some(0)).is_err());
    }
}
