//! What `--port` names: a kind of port the run makes as many of as its topology needs (`feth`, `null`,
//! `tap`), or a comma-separated list of ports, each one port of the run in order, which may mix kinds and
//! name real interfaces (`afpacket:IFNAME[:QUEUES]`, `afxdp:IFNAME[:QUEUES]`) or a shared-memory endpoint
//! (`shm:PATH`).

/// One entry of `--port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// A feth crossed pair (two ports in a list).
    Feth,
    /// A null port.
    Null,
    /// A TAP interface (named after `--tap-name`).
    Tap,
    /// An existing interface through AF_PACKET sockets (one per queue, in a fanout group).
    AfPacket {
        /// Interface name.
        ifname: String,
        /// Queues.
        queues: usize,
    },
    /// An existing interface through AF_XDP sockets (one per queue).
    AfXdp {
        /// Interface name.
        ifname: String,
        /// Queues.
        queues: usize,
    },
    /// A shared-memory port whose peer is another process, at a Unix-domain socket path (`--role` says
    /// which side this process is).
    Shm {
        /// The endpoint.
        path: String,
    },
}

/// The whole `--port` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList(pub Vec<PortSpec>);

/// What `--port` accepts, for error messages.
pub const VALID: &str = "feth, null, tap, afpacket:IFNAME[:QUEUES] or afxdp:IFNAME[:QUEUES] (QUEUES 1..=64), \
                         shm:PATH, or a comma-separated list of them";

/// Most queues `--port` gives a real interface.
const MAX_QUEUES: usize = 64;

impl PortSpec {
    /// Short name of the kind (`afxdp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            PortSpec::Feth => "feth",
            PortSpec::Null => "null",
            PortSpec::Tap => "tap",
            PortSpec::AfPacket { .. } => "afpacket",
            PortSpec::AfXdp { .. } => "afxdp",
            PortSpec::Shm { .. } => "shm",
        }
    }

    /// Ports of the run this entry makes in a list.
    pub fn port_count(&self) -> usize {
        if *self == PortSpec::Feth {
            2
        } else {
            1
        }
    }

    /// Whether its frames come from and go to the world outside the run (every kind but feth, whose frames
    /// cross between its own two ports).
    pub fn faces_outside(&self) -> bool {
        *self != PortSpec::Feth
    }

    fn parse(s: &str) -> Result<PortSpec, String> {
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or_default();
        let wire = |make: fn(String, usize) -> PortSpec, mut parts: std::str::Split<'_, char>| {
            let ifname = parts.next().filter(|n| !n.is_empty()).ok_or("an interface name after the colon")?;
            let queues = match parts.next() {
                None => 1,
                Some(q) => q.parse().ok().filter(|q| (1..=MAX_QUEUES).contains(q)).ok_or("QUEUES in 1..=64")?,
            };
            match parts.next() {
                Some(_) => Err("at most IFNAME:QUEUES after the kind"),
                None => Ok(make(ifname.to_owned(), queues)),
            }
        };
        let spec = match kind {
            "feth" | "null" | "tap" if s.contains(':') => Err("no colon after feth, null or tap"),
            "feth" => Ok(PortSpec::Feth),
            "null" => Ok(PortSpec::Null),
            "tap" => Ok(PortSpec::Tap),
            "afpacket" => wire(|ifname, queues| PortSpec::AfPacket { ifname, queues }, parts),
            "afxdp" => wire(|ifname, queues| PortSpec::AfXdp { ifname, queues }, parts),
            "shm" => match &s[kind.len()..] {
                ":" | "" => Err("a socket path after the colon"),
                path => Ok(PortSpec::Shm { path: path[1..].to_owned() }),
            },
            _ => Err("a known kind"),
        };
        spec.map_err(|why| format!("invalid --port {s}: expected {why}; valid is {VALID}"))
    }
}

impl PortList {
    /// The kind when the list is one `feth`, `null` or `tap` (the run makes as many as its topology needs);
    /// None for an explicit list.
    pub fn single_kind(&self) -> Option<&PortSpec> {
        match self.0.as_slice() {
            [one @ (PortSpec::Feth | PortSpec::Null | PortSpec::Tap)] => Some(one),
            _ => None,
        }
    }

    /// Ports the list makes.
    pub fn port_count(&self) -> usize {
        self.0.iter().map(PortSpec::port_count).sum()
    }
}

/// The role `--role` gives the list's shm ports: required when it has one, refused when it has none.
///
/// # Errors
/// The message for the user, naming the flag.
pub fn shm_role(
    list: &[PortSpec],
    role: Option<pktloop_pmd::shm::Role>,
) -> Result<Option<pktloop_pmd::shm::Role>, String> {
    let has_shm = list.iter().any(|p| matches!(p, PortSpec::Shm { .. }));
    match (has_shm, role) {
        (true, None) => Err("--port shm:PATH needs --role: valid is server or client".into()),
        (false, Some(r)) => {
            Err(format!("invalid --role {}: it applies to shm ports only; valid with --port shm:PATH", r.as_str()))
        }
        _ => Ok(role),
    }
}

/// Parses `--port`'s value (clap's value parser).
pub fn parse_list(s: &str) -> Result<PortList, String> {
    let specs = s.split(',').map(str::trim).map(PortSpec::parse).collect::<Result<Vec<_>, _>>()?;
    Ok(PortList(specs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_lists_and_interfaces_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(parse_list("feth").unwrap().single_kind(), Some(&PortSpec::Feth));
        let list = parse_list("afxdp:veth0:4,tap,afpacket:eth1").unwrap();
        assert_eq!(
            list.0,
            vec![
                PortSpec::AfXdp { ifname: "veth0".into(), queues: 4 },
                PortSpec::Tap,
                PortSpec::AfPacket { ifname: "eth1".into(), queues: 1 }
            ]
        );
        assert_eq!(list.single_kind(), None);
        assert_eq!(parse_list("feth,null").unwrap().port_count(), 3);
        assert_eq!(parse_list("shm:/run/a:b.sock").unwrap().0, vec![PortSpec::Shm { path: "/run/a:b.sock".into() }]);
        for (bad, why) in [
            ("wifi", "a known kind"),
            ("afxdp", "an interface name"),
            ("afxdp:", "an interface name"),
            ("afxdp:eth0:0", "QUEUES in 1..=64"),
            ("afpacket:eth0:65", "QUEUES in 1..=64"),
            ("shm:", "a socket path after the colon"),
            ("shm", "a socket path after the colon"),
            ("afpacket:eth0:2:x", "at most IFNAME:QUEUES"),
            ("tap:x", "no colon"),
        ] {
            let e = parse_list(bad).unwrap_err();
            assert!(e.starts_with(&format!("invalid --port {bad}: expected {why}")), "{e}");
            assert!(e.contains("valid is feth, null, tap"), "{e}");
        }
    }
}
