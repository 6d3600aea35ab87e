//! The receiver's fast JSON pass (DESIGN §4, docs/performance.md §1): one allocation-free
//! walk over a verified body that validates it as exactly one JSON object — what
//! `serde_json::from_slice::<Value>` accepts as an object: RFC 8259 grammar, valid UTF-8,
//! escapes (paired surrogates only), no raw control characters in strings, numbers in `f64`
//! range, nesting below serde's recursion limit, nothing after the object but whitespace — and
//! notes where the members the head needs sit. [`super::mapping::parse_head`] turns those
//! places into the event id and type; anything it does not handle plainly (an escaped member
//! name, a wanted member twice) goes back to serde, and any invalid body to serde's own error.
//!
//! Why: serde reads the whole body into typed fields and skips the rest value by value; this
//! pass skips string runs eight bytes at a time and checks UTF-8 once over the whole body,
//! which matters because the receiver's budget per event is a few microseconds.

/// Where a wanted member's value sits, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Absent,
    Null,
    /// A string without escapes: the byte range between its quotes.
    Plain(usize, usize),
    /// A string with escapes: the byte range including its quotes (serde decodes it).
    Escaped(usize, usize),
    Object,
    Array,
    /// A number or a boolean.
    Scalar,
}

/// The members to look for: `top` in the body's object; `nested.1` in the object that is the
/// value of `top[nested.0]` (Close's `event`).
pub struct Wanted {
    pub top: &'static [&'static [u8]],
    pub nested: Option<(usize, &'static [&'static [u8]])>,
}

/// What the pass found in a valid body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub top: [Found; MAX_WANTED],
    pub nested: [Found; MAX_WANTED],
    /// A wanted member appeared twice, or a member name at a level read has an escape: the
    /// caller reads the head with serde instead (same verdict as before this pass existed).
    pub unusual: bool,
    /// How deeply the body nests (`{}` is 1), as [`super::mapping::nesting_depth`] counts.
    pub depth: usize,
}

pub const MAX_WANTED: usize = 3;

/// serde_json refuses the 128th nested array or object (`recursion limit exceeded`).
const DEPTH_LIMIT: usize = 128;

/// A number longer than this (or with an exponent) is checked by serde_json itself: only such
/// numbers can fall outside `f64`'s range, which serde refuses (`number out of range`).
const PLAIN_NUMBER_MAX: usize = 300;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` that end a plain string run (`"`, `\` or a control character), as the high
/// bit of each such byte; exact for the lowest one (the only one used).
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v;
    (zero_in(quote) | zero_in(backslash) | w.wrapping_sub(ONES * 0x20) & !w) & HIGHS
}

#[inline(always)]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

fn hex4(b: &[u8], i: usize) -> Option<u16> {
    let digits = b.get(i..i + 4)?;
    let mut n = 0u16;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        n = (n << 4) | u16::from(v);
    }
    Some(n)
}

/// The escape whose letter is at `i` (after the backslash); returns the index after it.
/// A leading surrogate must be followed at once by `\u` and a trailing one; a lone trailing
/// one is refused (serde_json, parsing into a `String`, does both).
fn escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let n = hex4(b, i + 1)?;
            let after = i + 5;
            match n {
                0xDC00..=0xDFFF => None,
                0xD800..=0xDBFF => {
                    if b.get(after) != Some(&b'\\') || b.get(after + 1) != Some(&b'u') {
                        return None;
                    }
                    matches!(hex4(b, after + 2)?, 0xDC00..=0xDFFF).then_some(after + 6)
                }
                _ => Some(after),
            }
        }
        _ => None,
    }
}

/// The string whose opening quote is at `i`: returns the index of its closing quote and
/// whether it holds an escape. UTF-8 is checked by the caller, once, over the whole body.
#[inline(always)]
fn string(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    i += 1;
    let mut escaped = false;
    loop {
        while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let stops = string_stops(u64::from_le_bytes(*chunk));
            if stops != 0 {
                i += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match *b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i = escape(b, i + 1)?;
            }
            c if c < 0x20 => return None,
            _ => i += 1,
        }
    }
}

#[inline(always)]
fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// The number starting at `i`; returns the index after it.
fn number(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i + 1),
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    let mut exponent = false;
    if let Some(b'e' | b'E') = b.get(i) {
        exponent = true;
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    if exponent || i - start > PLAIN_NUMBER_MAX {
        serde_json::from_slice::<serde_json::Value>(&b[start..i]).ok()?;
    }
    Some(i)
}

/// Which wanted member a member name (the bytes between its quotes) is.
#[inline(always)]
fn member(names: &[&[u8]], name: &[u8]) -> Option<usize> {
    names.iter().position(|n| *n == name)
}

/// Where the value about to be read is recorded.
#[derive(Clone, Copy)]
enum Slot {
    None,
    Top(usize),
    Nested(usize),
}

/// Validates `body` as one JSON object and finds the `wanted` members; `None` when serde_json
/// would refuse it (or it is not an object).
pub fn scan(body: &[u8], wanted: &Wanted) -> Option<Scan> {
    simdutf8::basic::from_utf8(body).ok()?;
    let b = body;
    let mut out = Scan {
        top: [Found::Absent; MAX_WANTED],
        nested: [Found::Absent; MAX_WANTED],
        unusual: false,
        depth: 0,
    };
    // Bit `d` set: the container at depth `d` is an object.
    let mut objects: u128 = 0;
    let mut depth = 0usize;
    let mut in_nested = false;
    let mut slot = Slot::None;
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }

    // One value starts at `i` (whitespace skipped).
    'value: loop {
        let start = i;
        let found = match *b.get(i)? {
            b'{' | b'[' => {
                let object = b[i] == b'{';
                depth += 1;
                if depth >= DEPTH_LIMIT {
                    return None;
                }
                out.depth = out.depth.max(depth);
                let close = if object {
                    objects |= 1 << depth;
                    b'}'
                } else {
                    objects &= !(1 << depth);
                    b']'
                };
                let found = if object { Found::Object } else { Found::Array };
                match slot {
                    Slot::Top(k) => {
                        record(&mut out.top[k], found, &mut out.unusual);
                        in_nested = object && wanted.nested.is_some_and(|(n, _)| n == k);
                    }
                    Slot::Nested(k) => record(&mut out.nested[k], found, &mut out.unusual),
                    Slot::None => {}
                }
                slot = Slot::None;
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&close) {
                    i += 1;
                    close_container(&mut depth, &mut in_nested);
                } else if object {
                    (i, slot) = member_name(b, i, depth, in_nested, wanted, &mut out)?;
                    continue 'value;
                } else {
                    continue 'value;
                }
                None
            }
            b'"' => {
                let (end, escaped) = string(b, i)?;
                i = end + 1;
                Some(if escaped {
                    Found::Escaped(start, end + 1)
                } else {
                    Found::Plain(start + 1, end)
                })
            }
            b't' if b[i..].first_chunk() == Some(b"true") => {
                i += 4;
                Some(Found::Scalar)
            }
            b'f' if b[i..].first_chunk() == Some(b"false") => {
                i += 5;
                Some(Found::Scalar)
            }
            b'n' if b[i..].first_chunk() == Some(b"null") => {
                i += 4;
                Some(Found::Null)
            }
            b'-' | b'0'..=b'9' => {
                i = number(b, i)?;
                Some(Found::Scalar)
            }
            _ => return None,
        };
        if let Some(found) = found {
            match slot {
                Slot::Top(k) => record(&mut out.top[k], found, &mut out.unusual),
                Slot::Nested(k) => record(&mut out.nested[k], found, &mut out.unusual),
                Slot::None => {}
            }
            slot = Slot::None;
        }

        // After a value: a separator, the end of its container, or the end of the body.
        loop {
            i = skip_ws(b, i);
            if depth == 0 {
                return (i == b.len()).then_some(out);
            }
            let c = *b.get(i)?;
            i += 1;
            let object = objects & (1 << depth) != 0;
            match (c, object) {
                (b',', true) => {
                    i = skip_ws(b, i);
                    (i, slot) = member_name(b, i, depth, in_nested, wanted, &mut out)?;
                    continue 'value;
                }
                (b',', false) => {
                    i = skip_ws(b, i);
                    continue 'value;
                }
                (b'}', true) | (b']', false) => close_container(&mut depth, &mut in_nested),
                _ => return None,
            }
        }
    }
}

#[inline(always)]
fn close_container(depth: &mut usize, in_nested: &mut bool) {
    if *depth == 2 {
        *in_nested = false;
    }
    *depth -= 1;
}

#[inline(always)]
fn record(place: &mut Found, found: Found, unusual: &mut bool) {
    if *place != Found::Absent {
        *unusual = true;
    }
    *place = found;
}

/// A member name at `i` (a quote), its colon and the whitespace after it: returns where its
/// value starts and where that value is recorded.
#[inline(always)]
fn member_name(
    b: &[u8],
    i: usize,
    depth: usize,
    in_nested: bool,
    wanted: &Wanted,
    out: &mut Scan,
) -> Option<(usize, Slot)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let (end, escaped) = string(b, i)?;
    let names = match (depth, wanted.nested) {
        (1, _) => Some(wanted.top),
        (2, Some((_, nested))) if in_nested => Some(nested),
        _ => None,
    };
    let mut slot = Slot::None;
    if let Some(names) = names {
        if escaped {
            out.unusual = true;
        } else if let Some(k) = member(names, &b[i + 1..end]) {
            slot = if depth == 1 {
                Slot::Top(k)
            } else {
                Slot::Nested(k)
            };
        }
    }
    let i = skip_ws(b, end + 1);
    if b.get(i) != Some(&b':') {
        return None;
    }
    Some((skip_ws(b, i + 1), slot))
}
