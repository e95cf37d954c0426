//! A serde `Serializer` that writes canonical JSON directly, without building a
//! `serde_json::Value` first.
//!
//! It produces exactly what `to_value` followed by [`super::write_value`] produces (a property
//! test holds it to that), at a fraction of the cost: object members are written straight into
//! the output and only re-ordered when they did not arrive in canonical order.

use std::fmt;

use serde::ser::{self, Serialize};

use super::{CanonicalError, MAX_SAFE_INTEGER, write_string};

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError::NotJson(msg.to_string())
    }
}

/// Writes canonical JSON into `out`.
pub(crate) struct Serializer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) scratch: &'a mut Scratch,
}

/// Working space shared by every object of one serialization, so that nested objects do not
/// each allocate: the members of the objects being written (a stack: an object's members sit
/// above its parent's and are popped when it closes), and a buffer for re-ordering.
pub(crate) struct Scratch {
    members: Vec<Member>,
    bytes: Vec<u8>,
}

impl Scratch {
    pub(crate) fn with_capacity(members: usize) -> Self {
        Scratch {
            members: Vec::with_capacity(members),
            bytes: Vec::new(),
        }
    }

    /// Empties it, keeping its capacity (after an error it may hold a partial object).
    pub(crate) fn clear(&mut self) {
        self.members.clear();
        self.bytes.clear();
    }
}

pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) -> Result<(), CanonicalError> {
    if v > MAX_SAFE_INTEGER {
        return Err(CanonicalError::IntegerOutOfRange(v.to_string()));
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v;
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + digit;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
    Ok(())
}

fn write_i64(out: &mut Vec<u8>, v: i64) -> Result<(), CanonicalError> {
    if v < 0 {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange(v.to_string()));
        }
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs())
}

/// Where an object's members sit in the output while it is being written.
struct Member {
    key: Key,
    /// Byte range of `"key":value` in the output.
    start: usize,
    end: usize,
}

enum Key {
    Static(&'static str),
    Owned(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Static(s) => s,
            Key::Owned(s) => s,
        }
    }
}

pub(crate) fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    // UTF-8 byte order is code point order, which differs from UTF-16 order only between
    // characters at or above U+E000 and supplementary ones. When the first differing bytes
    // are both ASCII they sit on a character boundary after an identical prefix and decide
    // the order alone; a prefix sorts first in both orders.
    match a.bytes().zip(b.bytes()).find(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some((x, y)) if x.is_ascii() && y.is_ascii() => x.cmp(&y),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

/// An object being written: members go straight to the output; if they did not arrive sorted
/// they are re-ordered once at the end.
pub(crate) struct Object<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    /// Where the `{` is.
    open: usize,
    /// Where this object's members start in `scratch.members`.
    base: usize,
    sorted: bool,
    /// The only member out of order is the first, the rest arrived sorted (an internally
    /// tagged enum writes its tag `type` first, and it usually sorts last).
    only_first_late: bool,
    /// Closes a `{"variant":` wrapper (struct and map variants).
    wrapped: bool,
    pending_key: Option<String>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, scratch: &'a mut Scratch, wrapped: bool) -> Self {
        out.push(b'{');
        let open = out.len() - 1;
        let base = scratch.members.len();
        Object {
            out,
            scratch,
            open,
            base,
            sorted: true,
            only_first_late: false,
            wrapped,
            pending_key: None,
        }
    }

    fn member<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), CanonicalError> {
        let count = self.scratch.members.len() - self.base;
        if let Some(last) = self.scratch.members.last().filter(|_| count > 0) {
            match key_cmp(last.key.as_str(), key.as_str()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(CanonicalError::NotJson(format!(
                        "duplicate key {:?}",
                        key.as_str()
                    )));
                }
                std::cmp::Ordering::Greater => {
                    self.only_first_late = self.sorted && count == 1;
                    self.sorted = false;
                }
            }
        }
        if count > 0 {
            self.out.push(b',');
        }
        let start = self.out.len();
        write_string(key.as_str(), self.out);
        self.out.push(b':');
        value.serialize(Serializer {
            out: self.out,
            scratch: self.scratch,
        })?;
        self.scratch.members.push(Member {
            key,
            start,
            end: self.out.len(),
        });
        Ok(())
    }

    fn finish(self) -> Result<(), CanonicalError> {
        let members = self
            .scratch
            .members
            .get_mut(self.base..)
            .unwrap_or_default();
        if !self.sorted && self.only_first_late {
            // Move the first member to its place among the others, in place: no sort, no copy
            // out and back.
            if let Some((first, rest)) = members.split_first() {
                let mut before = 0usize;
                for m in rest {
                    match key_cmp(m.key.as_str(), first.key.as_str()) {
                        std::cmp::Ordering::Less => before += 1,
                        std::cmp::Ordering::Equal => {
                            return Err(CanonicalError::NotJson(format!(
                                "duplicate key {:?}",
                                m.key.as_str()
                            )));
                        }
                        std::cmp::Ordering::Greater => break,
                    }
                }
                // Members are separated by one comma: `first,m1,…,mk` becomes `m1,…,mk,first`.
                let len = first.end - first.start;
                let end = before
                    .checked_sub(1)
                    .and_then(|last| rest.get(last))
                    .map_or(first.end, |m| m.end);
                if let Some(region) = self.out.get_mut(first.start..end) {
                    region.rotate_left((len + 1).min(region.len()));
                    let tail = region.len().saturating_sub(len + 1);
                    if let Some(moved) = region.get_mut(tail..) {
                        moved.rotate_right(1);
                    }
                }
            }
        } else if !self.sorted {
            members.sort_unstable_by(|a, b| key_cmp(a.key.as_str(), b.key.as_str()));
            for pair in members.windows(2) {
                if let [a, b] = pair
                    && a.key.as_str() == b.key.as_str()
                {
                    return Err(CanonicalError::NotJson(format!(
                        "duplicate key {:?}",
                        a.key.as_str()
                    )));
                }
            }
            let body = &mut self.scratch.bytes;
            body.clear();
            body.extend_from_slice(self.out.get(self.open + 1..).unwrap_or_default());
            self.out.truncate(self.open + 1);
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                let from = m.start - (self.open + 1);
                let to = m.end - (self.open + 1);
                self.out
                    .extend_from_slice(body.get(from..to).unwrap_or_default());
            }
        }
        self.scratch.members.truncate(self.base);
        self.out.push(b'}');
        if self.wrapped {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// An array being written.
pub(crate) struct Array<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    first: bool,
    /// Closes a `{"variant":` wrapper (tuple variants).
    wrapped: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Serializer {
            out: self.out,
            scratch: self.scratch,
        })
    }

    fn finish(self) -> Result<(), CanonicalError> {
        self.out.push(b']');
        if self.wrapped {
            self.out.push(b'}');
        }
        Ok(())
    }
}

fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_string(variant, out);
    out.push(b':');
}

impl<'a> ser::Serializer for Serializer<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), CanonicalError> {
        write_i64(self.out, i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), CanonicalError> {
        write_i64(self.out, i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), CanonicalError> {
        write_i64(self.out, i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), CanonicalError> {
        write_i64(self.out, v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), CanonicalError> {
        match i64::try_from(v) {
            Ok(v) => write_i64(self.out, v),
            Err(_) => Err(CanonicalError::IntegerOutOfRange(v.to_string())),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), CanonicalError> {
        write_u64(self.out, u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), CanonicalError> {
        write_u64(self.out, u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), CanonicalError> {
        write_u64(self.out, u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), CanonicalError> {
        write_u64(self.out, v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), CanonicalError> {
        match u64::try_from(v) {
            Ok(v) => write_u64(self.out, v),
            Err(_) => Err(CanonicalError::IntegerOutOfRange(v.to_string())),
        }
    }
    // Floats are never canonical in ro: refuse them whatever their value. The parameter types
    // are dictated by serde's trait.
    // purity-allow: f32 (serde's signature; the value is refused, never held)
    #[allow(clippy::disallowed_types)]
    fn serialize_f32(self, v: f32) -> Result<(), CanonicalError> {
        Err(CanonicalError::NotAnInteger(v.to_string()))
    }
    // purity-allow: f64 (serde's signature; the value is refused, never held)
    #[allow(clippy::disallowed_types)]
    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        Err(CanonicalError::NotAnInteger(v.to_string()))
    }
    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        let mut buf = [0u8; 4];
        write_string(v.encode_utf8(&mut buf), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_string(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        // As serde_json does: an array of byte values.
        let mut array = self.serialize_seq(Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut array, b)?;
        }
        ser::SerializeSeq::end(array)
    }
    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalError> {
        write_string(variant, self.out);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        open_variant(self.out, variant);
        value.serialize(Serializer {
            out: self.out,
            scratch: self.scratch,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, CanonicalError> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            scratch: self.scratch,
            first: true,
            wrapped: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        open_variant(self.out, variant);
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            scratch: self.scratch,
            first: true,
            wrapped: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self.out, self.scratch, false))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self.out, self.scratch, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        open_variant(self.out, variant);
        Ok(Object::new(self.out, self.scratch, true))
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        let key = key.serialize(KeySerializer)?;
        super::check_key(&key)?;
        self.pending_key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| CanonicalError::NotJson("map value without a key".into()))?;
        self.member(Key::Owned(key), value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.member(Key::Static(key), value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.member(Key::Static(key), value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

/// Map keys: strings as themselves; integers, booleans and chars as their text, as serde_json
/// writes them; anything else is refused.
struct KeySerializer;

fn key_err() -> CanonicalError {
    CanonicalError::NotJson("an object key must be a string".into())
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = ser::Impossible<String, CanonicalError>;
    type SerializeTuple = ser::Impossible<String, CanonicalError>;
    type SerializeTupleStruct = ser::Impossible<String, CanonicalError>;
    type SerializeTupleVariant = ser::Impossible<String, CanonicalError>;
    type SerializeMap = ser::Impossible<String, CanonicalError>;
    type SerializeStruct = ser::Impossible<String, CanonicalError>;
    type SerializeStructVariant = ser::Impossible<String, CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    // purity-allow: f32 (serde's signature; refused as a key)
    #[allow(clippy::disallowed_types)]
    fn serialize_f32(self, _v: f32) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    // purity-allow: f64 (serde's signature; refused as a key)
    #[allow(clippy::disallowed_types)]
    fn serialize_f64(self, _v: f64) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_none(self) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_unit(self) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_unit_struct(self, _n: &'static str) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_unit_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<String, CanonicalError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        value: &T,
    ) -> Result<String, CanonicalError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _value: &T,
    ) -> Result<String, CanonicalError> {
        Err(key_err())
    }
    fn serialize_seq(self, _l: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        Err(key_err())
    }
    fn serialize_tuple(self, _l: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        Err(key_err())
    }
    fn serialize_tuple_struct(
        self,
        _n: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        Err(key_err())
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        Err(key_err())
    }
    fn serialize_map(self, _l: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        Err(key_err())
    }
    fn serialize_struct(
        self,
        _n: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeStruct, CanonicalError> {
        Err(key_err())
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        Err(key_err())
    }
}
