//! Address ranges, on std's `IpAddr`: a CIDR or a single address, and containment.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    #[serde(rename = "IPv4")]
    V4,
    #[serde(rename = "IPv6")]
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The whole address space of the family: `0.0.0.0/0` or `::/0`.
    pub fn world(self) -> Net {
        let addr = match self {
            Family::V4 => IpAddr::from([0u8; 4]),
            Family::V6 => IpAddr::from([0u8; 16]),
        };
        Net { addr, len: 0 }
    }

    fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// A CIDR block without host bits; a single address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Net {
    addr: IpAddr,
    len: u8,
}

impl Net {
    /// `10.0.0.0/16`, `2001:db8::/32`, or an address (`10.0.0.5`, `2001:db8::1`).
    pub fn parse(text: &str) -> Result<Net, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{text} is not an IP address or CIDR (10.0.0.0/16, 2001:db8::/32)"))?;
        let max = Family::of(addr).bits();
        let len = match len_text {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max && (l == "0" || !l.starts_with('0')))
                .ok_or_else(|| format!("{text}: the prefix length must be 0-{max}"))?,
        };
        let net = Net { addr, len };
        let masked = net.network();
        if masked != addr {
            return Err(format!("{text} has host bits set: did you mean {masked}/{len}?"));
        }
        Ok(net)
    }

    pub fn host(addr: IpAddr) -> Net {
        Net {
            addr,
            len: Family::of(addr).bits(),
        }
    }

    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }

    /// `0.0.0.0/0` or `::/0`: every address of its family.
    pub fn is_world(&self) -> bool {
        self.len == 0
    }

    /// A single address (/32, /128).
    pub fn is_host(&self) -> bool {
        self.len == self.family().bits()
    }

    /// The address alone for a single address, else the CIDR.
    pub fn short(&self) -> String {
        match self.is_host() {
            true => self.addr.to_string(),
            false => self.to_string(),
        }
    }

    /// Every address of `other` lies in `self` (same family).
    pub fn contains(&self, other: &Net) -> bool {
        self.family() == other.family()
            && self.len <= other.len
            && (Net {
                addr: other.addr,
                len: self.len,
            })
            .network()
                == self.addr
    }

    /// The address with the bits past the prefix cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::from((u32::from(a) & mask).to_be_bytes())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0);
                IpAddr::from((u128::from(a) & mask).to_be_bytes())
            }
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}
