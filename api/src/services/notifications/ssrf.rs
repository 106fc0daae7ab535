//! The webhook SSRF guard: an endpoint must be http(s) on a public address. Loopback, private,
//! link-local, shared (CGNAT), multicast, unspecified and documentation addresses are refused at
//! registration and again at delivery, on the address the name resolves to then (a resolver that
//! the HTTP client connects through, so a name cannot be re-pointed between check and connect).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why an address is not a public one, or `None` when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else if s[0] == 0x0064 && s[1] == 0xff9b {
                // NAT64 reaches IPv4 addresses, private ones included
                v4_reason(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8))
            } else {
                None
            }
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("broadcast, multicast or reserved")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] & 0xfe) == 18) {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

/// Why `url` may not be a webhook endpoint, before any lookup: scheme, host, credentials, and an
/// IP literal host that is not public (unless `allow_private`).
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("the scheme must be http or https, not '{}'", u.scheme()));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("credentials in the URL are not accepted; the signature authenticates deliveries".into());
    }
    let host = u.host().ok_or("the URL has no host")?;
    if !allow_private {
        let ip = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") => {
                return Err("loopback hosts are refused (BB_WEBHOOK_ALLOW_PRIVATE=1 allows them on a local stack)".into())
            }
            url::Host::Domain(_) => None,
        };
        if let Some(reason) = ip.and_then(non_public) {
            return Err(format!("{reason} addresses are refused (BB_WEBHOOK_ALLOW_PRIVATE=1 allows them on a local stack)"));
        }
    }
    Ok(u)
}

/// Resolves `host:port` and refuses it unless every address is public.
pub async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
    if addrs.is_empty() {
        return Err(format!("{host} does not resolve to any address"));
    }
    if let Some((a, reason)) = addrs.iter().find_map(|a| non_public(a.ip()).map(|r| (a, r))) {
        return Err(format!("{host} resolves to {} ({reason}); such addresses are refused (BB_WEBHOOK_ALLOW_PRIVATE=1 allows them on a local stack)", a.ip()));
    }
    Ok(addrs)
}

/// The error the resolver gives for a refused address, found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A DNS resolver for reqwest that only yields public addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs = resolve_public(name.as_str(), 0).await.map_err(|e| Box::new(Refused(e)) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_named() {
        for (ip, want) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("0.0.0.0", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("private (unique local)")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("93.184.216.34", None),
            ("2606:2800:220:1:248:1893:25c8:1946", None),
        ] {
            assert_eq!(non_public(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("ftp://example.com/", false).unwrap_err().contains("scheme"));
        assert!(check_url("http://127.0.0.1:9000/", false).unwrap_err().contains("loopback"));
        assert!(check_url("http://[::1]/", false).unwrap_err().contains("loopback"));
        assert!(check_url("http://localhost:8080/", false).unwrap_err().contains("loopback"));
        assert!(check_url("http://169.254.169.254/latest/meta-data", false).unwrap_err().contains("link-local"));
        assert!(check_url("http://user:pw@example.com/", false).unwrap_err().contains("credentials"));
        assert!(check_url("http://127.0.0.1:9000/", true).is_ok());
    }
}
