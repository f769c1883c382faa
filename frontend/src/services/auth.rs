use troupe_types::{AuthResponse, LoginRequest, RegisterRequest, RegistrationInfo, User};

use super::{ApiResult, get, post, post_empty};

/// The signed-in user, or `None` when there is no session.
pub async fn me() -> ApiResult<Option<User>> {
    match get::<User>("/api/auth/me").await {
        Ok(user) => Ok(Some(user)),
        Err(e) if e.is_unauthorized() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn login(request: &LoginRequest) -> ApiResult<User> {
    post::<_, AuthResponse>("/api/auth/login", request).await.map(|r| r.user)
}

/// Whether the account about to be registered will be the server's admin.
pub async fn registration() -> ApiResult<RegistrationInfo> {
    get("/api/auth/registration").await
}

pub async fn register(request: &RegisterRequest) -> ApiResult<User> {
    post::<_, AuthResponse>("/api/auth/register", request).await.map(|r| r.user)
}

pub async fn logout() -> ApiResult<()> {
    post_empty("/api/auth/logout").await
}
