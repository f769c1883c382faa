//! The client's address: the peer's, or — when the peer is a trusted reverse proxy — the
//! nearest untrusted address in `X-Forwarded-For`.

use std::net::IpAddr;

use poem::{FromRequest, Request, RequestBody};

use crate::state::AppState;

pub struct ClientIp(pub IpAddr);

impl<'a> FromRequest<'a> for ClientIp {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let state = req.data::<AppState>().expect("startup installs the AppState");
        Ok(Self(resolve(peer, forwarded, &state.trusted_proxies)))
    }
}

fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|h| h.rsplit(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_may_speak_for_the_client() {
        let trusted = [ip("127.0.0.1")];
        assert_eq!(resolve(ip("10.1.1.1"), Some("1.2.3.4"), &trusted), ip("10.1.1.1"));
        assert_eq!(resolve(ip("127.0.0.1"), Some("1.2.3.4"), &trusted), ip("1.2.3.4"));
        assert_eq!(resolve(ip("127.0.0.1"), Some("6.6.6.6, 1.2.3.4, 127.0.0.1"), &trusted), ip("1.2.3.4"));
        assert_eq!(resolve(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
    }
}
