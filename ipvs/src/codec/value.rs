//! How attribute values are laid out. Each encoding is a type implementing [`Wire`] for the Rust
//! types it carries, so an attribute enum names one encoding per variant and the layout is
//! written once. Nothing here panics: emitting writes what fits, parsing checks lengths.

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NLA_F_NESTED, Nla, NlaBuffer, NlasIterator, Parseable,
};

/// What an encoding adds to the attribute type on the wire.
pub(super) trait Encoding {
    /// Flags or-ed into the NLA type (`NLA_F_NESTED` for nests).
    const NLA_FLAGS: u16 = 0;
}

/// Encoding of values of type `T`.
pub(super) trait Wire<T>: Encoding {
    /// Length of the value, without the NLA header or padding.
    fn len(value: &T) -> usize;
    /// Writes the value into `buffer` (exactly [`Wire::len`] bytes long).
    fn emit(value: &T, buffer: &mut [u8]);
    /// Reads a value; `what` names the attribute in errors.
    fn parse(value: &[u8], what: &'static str) -> Result<T, DecodeError>;
}

/// Integers in host byte order, and `struct ip_vs_flags` (two host-order `u32`s). Values longer
/// than the type are read from their first bytes, as the kernel reads them.
pub(super) enum HostOrder {}

/// A `u16` in network byte order (ports).
pub(super) enum NetworkOrder {}

/// A string, NUL-terminated on the wire; read up to the first NUL, lossily as UTF-8.
pub(super) enum NulTerminated {}

/// Bytes as they are: any length for `Vec<u8>`, at least `N` (the first `N` read) for `[u8; N]`.
pub(super) enum Raw {}

/// A nest of attributes.
pub(super) enum Nested {}

impl Encoding for HostOrder {}
impl Encoding for NetworkOrder {}
impl Encoding for NulTerminated {}
impl Encoding for Raw {}
impl Encoding for Nested {
    const NLA_FLAGS: u16 = NLA_F_NESTED;
}

/// Copies what fits: the buffer is sized by `len`, so nothing is cut in practice, and a wrong
/// size never panics.
fn put(buffer: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(buffer.len());
    buffer[..n].copy_from_slice(&bytes[..n]);
}

/// The first `N` bytes of `value`.
pub(super) fn fixed<const N: usize>(value: &[u8], what: &str) -> Result<[u8; N], DecodeError> {
    value
        .get(..N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| DecodeError::from(format!("{what}: need {N} bytes, got {}", value.len())))
}

macro_rules! host_order {
    ($($t:ty),+) => {$(
        impl Wire<$t> for HostOrder {
            fn len(_: &$t) -> usize {
                size_of::<$t>()
            }
            fn emit(value: &$t, buffer: &mut [u8]) {
                put(buffer, &value.to_ne_bytes());
            }
            fn parse(value: &[u8], what: &'static str) -> Result<$t, DecodeError> {
                Ok(<$t>::from_ne_bytes(fixed(value, what)?))
            }
        }
    )+};
}

host_order!(u8, u16, u32, u64);

impl Wire<(u32, u32)> for HostOrder {
    fn len(_: &(u32, u32)) -> usize {
        8
    }
    fn emit(&(a, b): &(u32, u32), buffer: &mut [u8]) {
        put(buffer, &a.to_ne_bytes());
        if let Some(rest) = buffer.get_mut(4..) {
            put(rest, &b.to_ne_bytes());
        }
    }
    fn parse(value: &[u8], what: &'static str) -> Result<(u32, u32), DecodeError> {
        let both: [u8; 8] = fixed(value, what)?;
        let (a, b) = both.split_at(4);
        Ok((
            u32::from_ne_bytes(fixed(a, what)?),
            u32::from_ne_bytes(fixed(b, what)?),
        ))
    }
}

impl Wire<u16> for NetworkOrder {
    fn len(_: &u16) -> usize {
        2
    }
    fn emit(value: &u16, buffer: &mut [u8]) {
        put(buffer, &value.to_be_bytes());
    }
    fn parse(value: &[u8], what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(fixed(value, what)?))
    }
}

impl Wire<String> for NulTerminated {
    fn len(value: &String) -> usize {
        value.len() + 1
    }
    fn emit(value: &String, buffer: &mut [u8]) {
        put(buffer, value.as_bytes());
        if let Some(nul) = buffer.get_mut(value.len()) {
            *nul = 0;
        }
    }
    fn parse(value: &[u8], _: &'static str) -> Result<String, DecodeError> {
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        Ok(String::from_utf8_lossy(&value[..end]).into_owned())
    }
}

impl Wire<Vec<u8>> for Raw {
    fn len(value: &Vec<u8>) -> usize {
        value.len()
    }
    fn emit(value: &Vec<u8>, buffer: &mut [u8]) {
        put(buffer, value);
    }
    fn parse(value: &[u8], _: &'static str) -> Result<Vec<u8>, DecodeError> {
        Ok(value.to_vec())
    }
}

impl<const N: usize> Wire<[u8; N]> for Raw {
    fn len(_: &[u8; N]) -> usize {
        N
    }
    fn emit(value: &[u8; N], buffer: &mut [u8]) {
        put(buffer, value);
    }
    fn parse(value: &[u8], what: &'static str) -> Result<[u8; N], DecodeError> {
        fixed(value, what)
    }
}

impl<T> Wire<Vec<T>> for Nested
where
    T: Nla + for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    fn len(value: &Vec<T>) -> usize {
        value.as_slice().buffer_len()
    }
    fn emit(value: &Vec<T>, buffer: &mut [u8]) {
        value.as_slice().emit(buffer);
    }
    fn parse(value: &[u8], what: &'static str) -> Result<Vec<T>, DecodeError> {
        NlasIterator::new(value)
            .map(|nla| nla.and_then(|b| T::parse(&b)))
            .collect::<Result<Vec<_>, _>>()
            .context(what)
    }
}
