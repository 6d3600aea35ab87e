//! SSRF rules of DESIGN §3 for every outbound URL: the address classes that are refused
//! (always, or unless `ALLOW_PRIVATE_TARGETS`), the check when a URL is saved, and the DNS
//! resolver that applies them to every resolved address at connect time.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

// ---------------------------------------------------------------------------------------------
// Address rules
// ---------------------------------------------------------------------------------------------

/// Why an address is not a public internet address. Its `Display` reads "a loopback address",
/// "a cloud metadata address", ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRefusal {
    // Refused always.
    /// 169.254.169.254, fd00:ec2::254 (AWS), 100.100.100.200 (Alibaba).
    CloudMetadata,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 0.0.0.0, :: (Linux connects these to the local host).
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240.0.0.0/4 (future use).
    Reserved,
    // Refused unless private targets are allowed.
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fec0::/10 (deprecated site-local).
    Private,
    /// 100.64.0.0/10 (carrier-grade NAT).
    SharedAddressSpace,
    /// fc00::/7.
    UniqueLocal,
    /// 0.0.0.0/8 other than 0.0.0.0.
    ThisNetwork,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// 192.0.0.0/24, 192.88.99.0/24, 100::/64, 64:ff9b:1::/48.
    SpecialPurpose,
}

impl AddressRefusal {
    /// Refused even when `ALLOW_PRIVATE_TARGETS=true`.
    pub fn is_always_refused(self) -> bool {
        matches!(
            self,
            Self::CloudMetadata
                | Self::LinkLocal
                | Self::Unspecified
                | Self::Multicast
                | Self::Broadcast
                | Self::Reserved
        )
    }
}

impl fmt::Display for AddressRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CloudMetadata => "a cloud metadata address",
            Self::LinkLocal => "a link-local address",
            Self::Unspecified => "an unspecified address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "a broadcast address",
            Self::Reserved => "a reserved address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a carrier-grade NAT address",
            Self::UniqueLocal => "a unique-local address",
            Self::ThisNetwork => "a 'this network' address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::SpecialPurpose => "a special-purpose address",
        })
    }
}

/// Why `ip` may not be a webhook target, or `None` when it may.
pub fn address_refusal(ip: IpAddr, allow_private_targets: bool) -> Option<AddressRefusal> {
    let refusal = match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }?;
    (refusal.is_always_refused() || !allow_private_targets).then_some(refusal)
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressRefusal> {
    use AddressRefusal::*;
    let [a, b, c, _] = ip.octets();
    Some(match ip {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) => {
            CloudMetadata
        }
        _ if ip.is_link_local() => LinkLocal,
        _ if ip.is_unspecified() => Unspecified,
        _ if ip.is_broadcast() => Broadcast,
        _ if ip.is_multicast() => Multicast,
        _ if a >= 240 => Reserved,
        _ if ip.is_loopback() => Loopback,
        _ if ip.is_private() => Private,
        _ if a == 100 && (b & 0xc0) == 64 => SharedAddressSpace,
        _ if a == 0 => ThisNetwork,
        _ if ip.is_documentation() => Documentation,
        _ if a == 198 && (b & 0xfe) == 18 => Benchmarking,
        _ if (a, b, c) == (192, 0, 0) || (a, b, c) == (192, 88, 99) => SpecialPurpose,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressRefusal> {
    use AddressRefusal::*;
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // IPv4 addresses written as IPv6 reach the same hosts: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(CloudMetadata);
    }
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    // IPv4-compatible (::a.b.c.d, deprecated), NAT64 well-known prefix and 6to4.
    if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded_v4(s[1], s[2]));
    }
    Some(match s[0] {
        x if x & 0xff00 == 0xff00 => Multicast,
        x if x & 0xffc0 == 0xfe80 => LinkLocal,
        x if x & 0xffc0 == 0xfec0 => Private,
        x if x & 0xfe00 == 0xfc00 => UniqueLocal,
        0x2001 if s[1] == 0xdb8 => Documentation,
        0x2001 if s[1] == 0x2 && s[2] == 0 => Benchmarking,
        0x0100 if s[1..4] == [0, 0, 0] => SpecialPurpose,
        0x0064 if s[1] == 0xff9b && s[2] == 1 => SpecialPurpose,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Save-time URL check
// ---------------------------------------------------------------------------------------------

/// Why a webhook URL is refused. The message names the problem for the API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("url is not a valid absolute url")]
    Invalid,
    #[error("url must use https")]
    HttpsRequired,
    #[error("url must use http or https")]
    UnsupportedScheme,
    #[error("url must have a host")]
    MissingHost,
    #[error("url must not contain credentials")]
    Credentials,
    #[error("url points to {0}")]
    Address(AddressRefusal),
}

/// Save-time check of an outbound URL (DESIGN §3): https (http too when
/// `allow_private_targets`), a host, no `user:password@`, and a literal IP host must pass the
/// address rules. Hostnames are checked when connecting, on the addresses they resolve to.
pub fn validate_target_url(
    url: &str,
    allow_private_targets: bool,
) -> Result<url::Url, TargetError> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| TargetError::Invalid)?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private_targets => {}
        "http" => return Err(TargetError::HttpsRequired),
        _ if allow_private_targets => return Err(TargetError::UnsupportedScheme),
        _ => return Err(TargetError::HttpsRequired),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let ip = match parsed.host() {
        None => return Err(TargetError::MissingHost),
        Some(url::Host::Domain("")) => return Err(TargetError::MissingHost),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if let Some(refusal) = ip.and_then(|ip| address_refusal(ip, allow_private_targets)) {
        return Err(TargetError::Address(refusal));
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------
// Connect-time check: the resolver
// ---------------------------------------------------------------------------------------------

/// Errors the resolver hands to reqwest; found again in the error chain to word the attempt's
/// error.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResolveError {
    #[error("destination address not allowed: {host} resolves to {refusal}")]
    Refused {
        host: String,
        refusal: AddressRefusal,
    },
    #[error("could not resolve host {host}")]
    Lookup { host: String },
}

/// Keeps the allowed addresses of a lookup; refuses the name when none is left.
fn allowed_addresses(
    host: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
    allow_private_targets: bool,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let mut allowed = Vec::new();
    let mut first_refusal = None;
    for addr in resolved {
        match address_refusal(addr.ip(), allow_private_targets) {
            None => allowed.push(addr),
            Some(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match (allowed.is_empty(), first_refusal) {
        (false, _) => Ok(allowed),
        (true, Some(refusal)) => Err(ResolveError::Refused {
            host: host.to_owned(),
            refusal,
        }),
        (true, None) => Err(ResolveError::Lookup {
            host: host.to_owned(),
        }),
    }
}

/// Resolves with the system resolver (`tokio::net::lookup_host`) and drops refused addresses.
pub(super) struct GuardedResolver {
    pub(super) allow_private_targets: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private_targets = self.allow_private_targets;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| ResolveError::Lookup { host: host.clone() })?;
            let allowed = allowed_addresses(&host, resolved, allow_private_targets)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // ---- address rules ----

    #[test]
    fn always_refused_addresses_are_refused_even_when_private_targets_are_allowed() {
        for (addr, expected) in [
            ("169.254.169.254", AddressRefusal::CloudMetadata),
            ("100.100.100.200", AddressRefusal::CloudMetadata),
            ("fd00:ec2::254", AddressRefusal::CloudMetadata),
            ("::ffff:169.254.169.254", AddressRefusal::CloudMetadata),
            ("::169.254.169.254", AddressRefusal::CloudMetadata),
            ("64:ff9b::169.254.169.254", AddressRefusal::CloudMetadata),
            ("2002:a9fe:a9fe::1", AddressRefusal::CloudMetadata),
            ("169.254.1.1", AddressRefusal::LinkLocal),
            ("fe80::1", AddressRefusal::LinkLocal),
            ("febf::1", AddressRefusal::LinkLocal),
            ("::ffff:169.254.0.1", AddressRefusal::LinkLocal),
            ("0.0.0.0", AddressRefusal::Unspecified),
            ("::", AddressRefusal::Unspecified),
            ("::ffff:0.0.0.0", AddressRefusal::Unspecified),
            ("224.0.0.1", AddressRefusal::Multicast),
            ("239.255.255.250", AddressRefusal::Multicast),
            ("ff02::1", AddressRefusal::Multicast),
            ("255.255.255.255", AddressRefusal::Broadcast),
            ("240.0.0.1", AddressRefusal::Reserved),
        ] {
            for allow in [false, true] {
                assert_eq!(
                    address_refusal(ip(addr), allow),
                    Some(expected),
                    "{addr} allow={allow}"
                );
            }
        }
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        for (addr, expected) in [
            ("127.0.0.1", AddressRefusal::Loopback),
            ("127.255.0.9", AddressRefusal::Loopback),
            ("::1", AddressRefusal::Loopback),
            ("::ffff:127.0.0.1", AddressRefusal::Loopback),
            ("10.1.2.3", AddressRefusal::Private),
            ("172.16.0.1", AddressRefusal::Private),
            ("172.31.255.255", AddressRefusal::Private),
            ("192.168.1.1", AddressRefusal::Private),
            ("::ffff:10.0.0.1", AddressRefusal::Private),
            ("fec0::1", AddressRefusal::Private),
            ("100.64.0.1", AddressRefusal::SharedAddressSpace),
            ("100.127.255.255", AddressRefusal::SharedAddressSpace),
            ("fc00::1", AddressRefusal::UniqueLocal),
            ("fd12:3456::1", AddressRefusal::UniqueLocal),
            ("0.1.2.3", AddressRefusal::ThisNetwork),
            ("192.0.2.1", AddressRefusal::Documentation),
            ("198.51.100.7", AddressRefusal::Documentation),
            ("203.0.113.9", AddressRefusal::Documentation),
            ("2001:db8::1", AddressRefusal::Documentation),
            ("198.18.0.1", AddressRefusal::Benchmarking),
            ("198.19.255.1", AddressRefusal::Benchmarking),
            ("2001:2::1", AddressRefusal::Benchmarking),
            ("192.0.0.8", AddressRefusal::SpecialPurpose),
            ("192.88.99.1", AddressRefusal::SpecialPurpose),
            ("100::1", AddressRefusal::SpecialPurpose),
        ] {
            assert_eq!(address_refusal(ip(addr), false), Some(expected), "{addr}");
            assert_eq!(address_refusal(ip(addr), true), None, "{addr} allowed");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "169.253.0.1",
            "198.20.0.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(address_refusal(ip(addr), false), None, "{addr}");
        }
    }

    #[test]
    fn resolved_names_keep_only_allowed_addresses() {
        let public: SocketAddr = "93.184.216.34:0".parse().unwrap();
        let metadata: SocketAddr = "169.254.169.254:0".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();

        assert_eq!(
            allowed_addresses("mixed.example", [metadata, public], false).unwrap(),
            vec![public]
        );
        let err = allowed_addresses("rebind.example", [metadata], true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination address not allowed: rebind.example resolves to a cloud metadata address"
        );
        let err = allowed_addresses("localhost", [loopback], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination address not allowed: localhost resolves to a loopback address"
        );
        assert_eq!(
            allowed_addresses("localhost", [loopback], true).unwrap(),
            vec![loopback]
        );
        assert!(matches!(
            allowed_addresses("nothing.example", [], false),
            Err(ResolveError::Lookup { .. })
        ));
    }

    // ---- save-time URL check ----

    #[test]
    fn validate_accepts_https_names_and_public_ips() {
        for url in [
            "https://hooks.example.com/path?q=1",
            "https://api.hubapi.com/automation/v4/webhook-triggers/1/abc",
            "https://8.8.8.8:8443/x",
            "https://[2606:4700::1111]/x",
        ] {
            assert!(validate_target_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn validate_requires_https_unless_private_targets_are_allowed() {
        assert_eq!(
            validate_target_url("http://hooks.example.com/", false),
            Err(TargetError::HttpsRequired)
        );
        assert!(validate_target_url("http://hooks.example.com/", true).is_ok());
        assert_eq!(
            validate_target_url("ftp://hooks.example.com/", false),
            Err(TargetError::HttpsRequired)
        );
        assert_eq!(
            validate_target_url("ftp://hooks.example.com/", true),
            Err(TargetError::UnsupportedScheme)
        );
        assert_eq!(TargetError::HttpsRequired.to_string(), "url must use https");
    }

    #[test]
    fn validate_rejects_bad_urls() {
        assert_eq!(
            validate_target_url("not a url", false),
            Err(TargetError::Invalid)
        );
        assert_eq!(
            validate_target_url("/relative", false),
            Err(TargetError::Invalid)
        );
        assert_eq!(
            validate_target_url("https://", false),
            Err(TargetError::Invalid)
        );
        assert_eq!(
            validate_target_url("https://user:pass@hooks.example.com/", false),
            Err(TargetError::Credentials)
        );
        assert_eq!(
            validate_target_url("https://token@hooks.example.com/", false),
            Err(TargetError::Credentials)
        );
        assert_eq!(
            TargetError::Credentials.to_string(),
            "url must not contain credentials"
        );
    }

    #[test]
    fn validate_checks_literal_ips() {
        assert_eq!(
            validate_target_url("https://127.0.0.1/", false),
            Err(TargetError::Address(AddressRefusal::Loopback))
        );
        // Alternative IPv4 spellings are normalised by the URL parser before the check.
        for url in [
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::ffff:7f00:1]/",
        ] {
            assert_eq!(
                validate_target_url(url, false),
                Err(TargetError::Address(AddressRefusal::Loopback)),
                "{url}"
            );
        }
        assert!(validate_target_url("http://127.0.0.1:8080/", true).is_ok());
        let err =
            validate_target_url("http://169.254.169.254/latest/meta-data/", true).unwrap_err();
        assert_eq!(err.to_string(), "url points to a cloud metadata address");
        let err = validate_target_url("https://[fe80::1]/", true).unwrap_err();
        assert_eq!(err.to_string(), "url points to a link-local address");
    }
}
