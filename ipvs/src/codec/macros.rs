//! [`nla_enum!`]: one attribute enum and its [`Nla`](netlink_packet_core::Nla) impl from a list
//! of variants, each declared with its value type, its encoding (a type of [`super::value`]) and
//! its attribute type constant.
//!
//! ```text
//! nla_enum! {
//!     parse_by_kind;                   // optional: also implement Parseable, by attribute type
//!     /// Docs.
//!     #[derive(Debug, Clone, PartialEq, Eq)]
//!     pub enum SvcAttr {
//!         /// Docs.
//!         Port(u16): NetworkOrder = svc_attr::PORT,              // one value
//!         /// Docs.
//!         Flags { flags: u32, mask: u32 }: HostOrder = svc_attr::FLAGS, // fields, in order
//!     }
//! }
//! nla_enum! {
//!     pub enum StatsAttr {
//!         U32(u16, u32): HostOrder,    // no constant: the attribute type is the first field
//!     }
//! }
//! ```
//!
//! Every enum gets a last variant `Other(DefaultNla)` for attributes it does not model. Without
//! `parse_by_kind` (the attribute type is in the value, or means different things in different
//! messages), parsing is written by hand next to the enum.

/// See the [module documentation](self).
macro_rules! nla_enum {
    (
        parse_by_kind;
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $shape:tt : $wire:ident = $kind:path
            ),+ $(,)?
        }
    ) => {
        nla_enum! {
            $(#[$meta])*
            pub enum $name {
                $( $(#[$vmeta])* $variant $shape : $wire = $kind ),+
            }
        }

        impl<'a> ::netlink_packet_core::Parseable<::netlink_packet_core::NlaBuffer<&'a [u8]>>
            for $name
        {
            fn parse(
                buf: &::netlink_packet_core::NlaBuffer<&'a [u8]>,
            ) -> Result<Self, ::netlink_packet_core::DecodeError> {
                let value = buf.value();
                Ok(match buf.kind() {
                    $( $kind => nla_enum!(@parse $name $variant $shape $wire value), )+
                    _ => $name::Other(::netlink_packet_core::DefaultNla::parse(buf)?),
                })
            }
        }
    };

    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $shape:tt : $wire:ident $(= $kind:path)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* $variant $shape, )+
            /// An attribute this crate does not model (padding, or one of a newer kernel), kept
            /// as it came.
            Other(::netlink_packet_core::DefaultNla),
        }

        impl ::netlink_packet_core::Nla for $name {
            fn value_len(&self) -> usize {
                match self {
                    $(
                        nla_enum!(@bind_value $name $variant $shape value) => {
                            <$wire as $crate::codec::value::Wire<_>>::len(
                                nla_enum!(@value $shape value),
                            )
                        }
                    )+
                    $name::Other(o) => o.value_len(),
                }
            }

            fn kind(&self) -> u16 {
                match self {
                    $(
                        nla_enum!(@bind_kind $name $variant $shape kind) => {
                            nla_enum!(@kind $wire $shape kind $($kind)?)
                        }
                    )+
                    $name::Other(o) => o.kind(),
                }
            }

            fn emit_value(&self, buffer: &mut [u8]) {
                match self {
                    $(
                        nla_enum!(@bind_value $name $variant $shape value) => {
                            <$wire as $crate::codec::value::Wire<_>>::emit(
                                nla_enum!(@value $shape value),
                                buffer,
                            )
                        }
                    )+
                    $name::Other(o) => o.emit_value(buffer),
                }
            }
        }
    };

    // The pattern that binds a variant's value (as `$x`, or its fields by their names).
    (@bind_value $n:ident $v:ident (u16, $t:ty) $x:ident) => { $n::$v(_, $x) };
    (@bind_value $n:ident $v:ident ($t:ty) $x:ident) => { $n::$v($x) };
    (@bind_value $n:ident $v:ident { $( $(#[$fm:meta])* $f:ident : $ft:ty ),+ $(,)? } $x:ident) => {
        $n::$v { $($f),+ }
    };

    // The pattern that binds a variant's attribute type, when the variant carries it.
    (@bind_kind $n:ident $v:ident (u16, $t:ty) $k:ident) => { $n::$v($k, _) };
    (@bind_kind $n:ident $v:ident ($t:ty) $k:ident) => { $n::$v(_) };
    (@bind_kind $n:ident $v:ident { $($body:tt)* } $k:ident) => { $n::$v { .. } };

    // A reference to what the encoding writes: the value, or the fields as a tuple.
    (@value (u16, $t:ty) $x:ident) => { $x };
    (@value ($t:ty) $x:ident) => { $x };
    (@value { $( $(#[$fm:meta])* $f:ident : $ft:ty ),+ $(,)? } $x:ident) => { &($(*$f,)+) };

    // The attribute type on the wire: the constant with the encoding's flags, or the first field.
    (@kind $w:ident (u16, $t:ty) $k:ident) => { *$k };
    (@kind $w:ident $shape:tt $k:ident $kind:path) => {
        $kind | <$w as $crate::codec::value::Encoding>::NLA_FLAGS
    };

    // A variant read from the attribute's value `$x`.
    (@parse $n:ident $v:ident ($t:ty) $w:ident $x:ident) => {
        $n::$v(<$w as $crate::codec::value::Wire<$t>>::parse(
            $x,
            concat!(stringify!($n), "::", stringify!($v)),
        )?)
    };
    (@parse $n:ident $v:ident { $( $(#[$fm:meta])* $f:ident : $ft:ty ),+ $(,)? } $w:ident $x:ident) => {{
        let ($($f,)+) = <$w as $crate::codec::value::Wire<($($ft,)+)>>::parse(
            $x,
            concat!(stringify!($n), "::", stringify!($v)),
        )?;
        $n::$v { $($f),+ }
    }};
}

pub(super) use nla_enum;
