//! The NumPy `.npy` format: streaming read of numeric arrays into `f32`/`i64`, and atomic writes.
//!
//! Written by hand rather than through a crate because the loader has to control memory: a
//! 70,000 × 784 float64 file must land in one `Vec<f32>` without a full-size intermediate copy,
//! Fortran-ordered files are transposed while streaming, and every failure must name the file.
//! The reader works on any `Read`, so `.npz` members stream through the same code. Beside
//! it: `mapped.rs` (a file used as it lies, memory-mapped) and `writer.rs` (atomic writes).

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

mod mapped;
mod writer;

pub use mapped::{MappedElem, MappedMatrix, map_matrix_file};
pub use writer::{NpyElement, write};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Bytes converted per step when streaming the data: large enough to amortise the call
/// overhead, small enough to stay in cache.
const CHUNK_BYTES: usize = 1 << 20;

/// Where an array came from: a file, or a named member of an `.npz` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub member: Option<String>,
}

impl Source {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            member: None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.member {
            Some(member) => write!(f, "{} (array '{member}')", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

#[derive(Debug, Error)]
pub enum NpyError {
    #[error("cannot read {source_name}")]
    Io {
        source_name: Source,
        #[source]
        source: io::Error,
    },
    #[error("{source_name} is not a valid .npy file: {reason}")]
    Format { source_name: Source, reason: String },
    #[error(
        "{source_name} holds dtype '{descr}'; expected a numeric dtype (float16/32/64 or an integer type)"
    )]
    Dtype { source_name: Source, descr: String },
    #[error("{source_name} has shape {shape:?}; expected {expected}")]
    Shape {
        source_name: Source,
        shape: Vec<usize>,
        expected: &'static str,
    },
    #[error("{source_name} is truncated: its header promises {expected} data bytes, found {found}")]
    Truncated {
        source_name: Source,
        expected: u64,
        found: u64,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Element type of a `.npy` array, with its byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    pub kind: DtypeKind,
    pub little_endian: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtypeKind {
    F16,
    F32,
    F64,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Bool,
}

impl DtypeKind {
    pub fn size_bytes(self) -> usize {
        match self {
            Self::I8 | Self::U8 | Self::Bool => 1,
            Self::F16 | Self::I16 | Self::U16 => 2,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::F64 | Self::I64 | Self::U64 => 8,
        }
    }

    /// NumPy's name for the type, as users know it.
    pub fn numpy_name(self) -> &'static str {
        match self {
            Self::F16 => "float16",
            Self::F32 => "float32",
            Self::F64 => "float64",
            Self::I8 => "int8",
            Self::U8 => "uint8",
            Self::I16 => "int16",
            Self::U16 => "uint16",
            Self::I32 => "int32",
            Self::U32 => "uint32",
            Self::I64 => "int64",
            Self::U64 => "uint64",
            Self::Bool => "bool",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Self::F16 | Self::F32 | Self::F64)
    }
}

impl Dtype {
    fn parse(descr: &str) -> Option<Self> {
        let mut chars = descr.chars();
        let order = chars.next()?;
        let little_endian = match order {
            '<' | '|' | '=' => true,
            '>' => false,
            _ => return None,
        };
        let kind = match chars.as_str() {
            "f2" => DtypeKind::F16,
            "f4" => DtypeKind::F32,
            "f8" => DtypeKind::F64,
            "i1" => DtypeKind::I8,
            "u1" => DtypeKind::U8,
            "i2" => DtypeKind::I16,
            "u2" => DtypeKind::U16,
            "i4" => DtypeKind::I32,
            "u4" => DtypeKind::U32,
            "i8" => DtypeKind::I64,
            "u8" => DtypeKind::U64,
            "b1" => DtypeKind::Bool,
            _ => return None,
        };
        Some(Self {
            kind,
            little_endian,
        })
    }
}

/// The parsed header of a `.npy` stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub dtype: Dtype,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

impl Header {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn data_bytes(&self) -> u64 {
        self.n_elements() as u64 * self.dtype.kind.size_bytes() as u64
    }
}

/// A 2-D array read as `f32`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub data: Vec<f32>,
    /// The dtype the file stored, before conversion to `f32`.
    pub stored_dtype: DtypeKind,
    pub fortran_order: bool,
}

/// Open a `.npy` file and read its header.
pub fn open(path: &Path) -> Result<(Header, BufReader<File>), NpyError> {
    let source = Source::file(path);
    let file = File::open(path).map_err(|source_err| NpyError::Io {
        source_name: source.clone(),
        source: source_err,
    })?;
    let length = file.metadata().map(|m| m.len()).ok();
    let mut reader = BufReader::with_capacity(CHUNK_BYTES, file);
    let header = read_header(&mut reader, &source)?;
    // Check the data against the file's length before anything is allocated for it: a
    // damaged header can promise billions of values.
    if let (Some(length), Ok(at)) = (length, io::Seek::stream_position(&mut reader)) {
        check_data_fits(&header, length.saturating_sub(at), &source)?;
    }
    Ok((header, reader))
}

/// An error unless `available` bytes can hold the data the header promises: called before
/// the data is read, so a damaged shape is reported instead of allocated.
pub fn check_data_fits(header: &Header, available: u64, source: &Source) -> Result<(), NpyError> {
    if header.data_bytes() > available {
        return Err(NpyError::Truncated {
            source_name: source.clone(),
            expected: header.data_bytes(),
            found: available,
        });
    }
    Ok(())
}

/// Read a 2-D numeric `.npy` file into row-major `f32`.
pub fn read_matrix_file(path: &Path) -> Result<Matrix, NpyError> {
    let (header, mut reader) = open(path)?;
    read_matrix(&mut reader, &header, &Source::file(path))
}

/// Read a 1-D (or `(n, 1)`) integer or float `.npy` file as `f64`, e.g. labels or a colour value per point.
pub fn read_vector_file(path: &Path) -> Result<(Vec<f64>, DtypeKind), NpyError> {
    let source = Source::file(path);
    let (header, mut reader) = open(path)?;
    let n = match header.shape.as_slice() {
        [n] | [n, 1] => *n,
        _ => {
            return Err(NpyError::Shape {
                source_name: source,
                shape: header.shape,
                expected: "a 1-D array (one value per item)",
            });
        }
    };
    let mut out = Vec::with_capacity(n);
    stream_elements(&mut reader, &header, &source, |chunk| {
        out.extend_from_slice(chunk);
    })?;
    Ok((out, header.dtype.kind))
}

/// Read a 2-D integer `.npy` file (C or Fortran order) as row-major `i64`: neighbour
/// indices, where a float's 24-bit mantissa would corrupt item numbers above 16 million.
pub fn read_index_matrix_file(path: &Path) -> Result<(usize, usize, Vec<i64>), NpyError> {
    let source = Source::file(path);
    let (header, mut reader) = open(path)?;
    let [rows, cols] = match header.shape.as_slice() {
        [r, c] => [*r, *c],
        _ => {
            return Err(NpyError::Shape {
                source_name: source,
                shape: header.shape,
                expected: "a 2-D array (items × neighbours)",
            });
        }
    };
    if header.dtype.kind.is_float() || header.dtype.kind == DtypeKind::Bool {
        return Err(NpyError::Format {
            source_name: source,
            reason: format!(
                "neighbour indices must be integers (int32 or int64), not {}",
                header.dtype.kind.numpy_name()
            ),
        });
    }
    let mut values: Vec<i64> = Vec::new();
    values
        .try_reserve_exact(rows * cols)
        .map_err(|_| NpyError::Format {
            source_name: source.clone(),
            reason: format!("cannot allocate {rows} × {cols} indices"),
        })?;
    // Integers up to 2⁵³ are exact in the f64 the stream decodes to; larger ones are out of
    // range for any data set and saturate, to be rejected by the caller's range check.
    stream_elements(&mut reader, &header, &source, |chunk| {
        values.extend(chunk.iter().map(|&v| v as i64));
    })?;
    if header.fortran_order && rows > 1 && cols > 1 {
        let mut c_order = vec![0i64; values.len()];
        for (j, column) in values.chunks_exact(rows).enumerate() {
            for (i, &v) in column.iter().enumerate() {
                c_order[i * cols + j] = v;
            }
        }
        values = c_order;
    }
    Ok((rows, cols, values))
}

/// Parse the magic, version and header dictionary, leaving `reader` at the first data byte.
pub fn read_header(reader: &mut impl Read, source: &Source) -> Result<Header, NpyError> {
    let format = |reason: &str| NpyError::Format {
        source_name: source.clone(),
        reason: reason.to_owned(),
    };
    let mut preamble = [0u8; 8];
    read_exact_or_format(
        reader,
        &mut preamble,
        source,
        "file is shorter than the .npy preamble",
    )?;
    if &preamble[..6] != MAGIC {
        return Err(format("missing the \\x93NUMPY magic bytes"));
    }
    let major = preamble[6];
    let header_len = match major {
        1 => {
            let mut len = [0u8; 2];
            read_exact_or_format(reader, &mut len, source, "header length missing")?;
            usize::from(u16::from_le_bytes(len))
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            read_exact_or_format(reader, &mut len, source, "header length missing")?;
            u32::from_le_bytes(len) as usize
        }
        _ => return Err(format(&format!("unknown format version {major}"))),
    };
    if header_len > 1 << 20 {
        return Err(format("header is implausibly large"));
    }
    let mut text = vec![0u8; header_len];
    read_exact_or_format(reader, &mut text, source, "header is cut short")?;
    let text = String::from_utf8_lossy(&text);
    parse_header_dict(&text)
        .map_err(|reason| NpyError::Format {
            source_name: source.clone(),
            reason,
        })?
        .into_header(source)
}

struct RawHeader {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl RawHeader {
    fn into_header(self, source: &Source) -> Result<Header, NpyError> {
        let dtype = Dtype::parse(&self.descr).ok_or_else(|| NpyError::Dtype {
            source_name: source.clone(),
            descr: self.descr.clone(),
        })?;
        // The element and byte counts must fit in memory's address space, so that
        // `n_elements` and `data_bytes` cannot overflow later.
        let fits = self
            .shape
            .iter()
            .try_fold(dtype.kind.size_bytes(), |acc, &d| acc.checked_mul(d))
            .is_some_and(|bytes| isize::try_from(bytes).is_ok());
        if !fits {
            return Err(NpyError::Format {
                source_name: source.clone(),
                reason: format!("shape {:?} is too large for any file", self.shape),
            });
        }
        Ok(Header {
            dtype,
            fortran_order: self.fortran_order,
            shape: self.shape,
        })
    }
}

/// Parse the Python dict literal of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header_dict(text: &str) -> Result<RawHeader, String> {
    let value_after = |key: &str| -> Result<&str, String> {
        let quoted = [format!("'{key}'"), format!("\"{key}\"")];
        let start = quoted
            .iter()
            .find_map(|q| text.find(q.as_str()).map(|i| i + q.len()))
            .ok_or_else(|| format!("header has no '{key}' entry"))?;
        let rest = text[start..].trim_start();
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("header entry '{key}' has no value"))?;
        Ok(rest.trim_start())
    };

    let descr_text = value_after("descr")?;
    let quote = descr_text
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or("dtype is not a plain type string (structured arrays are not supported)")?;
    let descr_end = descr_text[1..]
        .find(quote)
        .ok_or("unterminated dtype string")?;
    let descr = descr_text[1..1 + descr_end].to_owned();

    let fortran_text = value_after("fortran_order")?;
    let fortran_order = if fortran_text.starts_with("True") {
        true
    } else if fortran_text.starts_with("False") {
        false
    } else {
        return Err("fortran_order is neither True nor False".to_owned());
    };

    let shape_text = value_after("shape")?;
    let shape_body = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(body, _)| body)
        .ok_or("shape is not a tuple")?;
    let shape = shape_body
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("shape entry '{s}' is not a non-negative integer"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RawHeader {
        descr,
        fortran_order,
        shape,
    })
}

fn read_exact_or_format(
    reader: &mut impl Read,
    buf: &mut [u8],
    source: &Source,
    reason: &str,
) -> Result<(), NpyError> {
    reader.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => NpyError::Format {
            source_name: source.clone(),
            reason: reason.to_owned(),
        },
        _ => NpyError::Io {
            source_name: source.clone(),
            source: e,
        },
    })
}

/// Read the data of a 2-D array (header already consumed) into row-major `f32`.
///
/// Fortran-ordered data is scattered into place as it streams, so peak memory is the output
/// plus one chunk whatever the stored order or width.
pub fn read_matrix(
    reader: &mut impl Read,
    header: &Header,
    source: &Source,
) -> Result<Matrix, NpyError> {
    let [n_rows, n_cols] = match header.shape.as_slice() {
        [n, d] => [*n, *d],
        // A 1-D array is N items with one feature each: accepted, since a scalar per point is a
        // legitimate (if dull) embedding.
        [n] => [*n, 1],
        _ => {
            return Err(NpyError::Shape {
                source_name: source.clone(),
                shape: header.shape.clone(),
                expected: "a 2-D array (items × features)",
            });
        }
    };
    let n_elements = n_rows.checked_mul(n_cols).ok_or_else(|| NpyError::Format {
        source_name: source.clone(),
        reason: "shape overflows memory".to_owned(),
    })?;
    let mut data: Vec<f32> = Vec::new();
    data.try_reserve_exact(n_elements)
        .map_err(|_| NpyError::Format {
            source_name: source.clone(),
            reason: format!("cannot allocate {n_rows} × {n_cols} values"),
        })?;
    let native_f32 = header.dtype.kind == DtypeKind::F32
        && header.dtype.little_endian == cfg!(target_endian = "little");
    if native_f32 && !(header.fortran_order && n_rows > 1 && n_cols > 1) {
        // The common case (float32, C order) reads straight into the output: no conversion,
        // no second buffer.
        data.resize(n_elements, 0.0);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut data);
        let got = read_fully(reader, bytes).map_err(|e| NpyError::Io {
            source_name: source.clone(),
            source: e,
        })?;
        if got < bytes.len() {
            return Err(NpyError::Truncated {
                source_name: source.clone(),
                expected: header.data_bytes(),
                found: got as u64,
            });
        }
    } else if header.fortran_order && n_rows > 1 && n_cols > 1 {
        data.resize(n_elements, 0.0);
        // Column-major: the file walks down each column in turn. Counters instead of a
        // division per element.
        let (mut row, mut col) = (0usize, 0usize);
        stream_elements(reader, header, source, |chunk| {
            for &v in chunk {
                data[row * n_cols + col] = v as f32;
                row += 1;
                if row == n_rows {
                    row = 0;
                    col += 1;
                }
            }
        })?;
    } else {
        stream_elements(reader, header, source, |chunk| {
            data.extend(chunk.iter().map(|&v| v as f32));
        })?;
    }
    Ok(Matrix {
        n_rows,
        n_cols,
        data,
        stored_dtype: header.dtype.kind,
        fortran_order: header.fortran_order,
    })
}

/// Stream every element as `f64` in storage order, a chunk at a time.
///
/// `f64` holds every supported type except the extremes of 64-bit integers exactly, and the
/// callers narrow to `f32` anyway.
fn stream_elements(
    reader: &mut impl Read,
    header: &Header,
    source: &Source,
    mut sink: impl FnMut(&[f64]),
) -> Result<(), NpyError> {
    let size = header.dtype.kind.size_bytes();
    let total = header.data_bytes();
    let chunk_elems = CHUNK_BYTES / size;
    let mut bytes = vec![0u8; chunk_elems * size];
    let mut values = vec![0f64; chunk_elems];
    let mut done = 0u64;
    while done < total {
        let want = ((total - done) as usize).min(bytes.len());
        let got = read_fully(reader, &mut bytes[..want]).map_err(|e| NpyError::Io {
            source_name: source.clone(),
            source: e,
        })?;
        if got < want {
            return Err(NpyError::Truncated {
                source_name: source.clone(),
                expected: total,
                found: done + got as u64,
            });
        }
        let n = want / size;
        decode(&bytes[..want], header.dtype, &mut values[..n]);
        sink(&values[..n]);
        done += want as u64;
    }
    Ok(())
}

/// `read_exact` that reports how far it got instead of failing at end of file.
fn read_fully(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn decode(bytes: &[u8], dtype: Dtype, out: &mut [f64]) {
    macro_rules! convert {
        ($t:ty, $n:expr) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact($n)) {
                let raw: [u8; $n] = b.try_into().unwrap_or([0; $n]);
                let v = if dtype.little_endian {
                    <$t>::from_le_bytes(raw)
                } else {
                    <$t>::from_be_bytes(raw)
                };
                *o = v as f64;
            }
        };
    }
    match dtype.kind {
        DtypeKind::F32 => convert!(f32, 4),
        DtypeKind::F64 => convert!(f64, 8),
        DtypeKind::I8 => convert!(i8, 1),
        DtypeKind::U8 => convert!(u8, 1),
        DtypeKind::Bool => convert!(u8, 1),
        DtypeKind::I16 => convert!(i16, 2),
        DtypeKind::U16 => convert!(u16, 2),
        DtypeKind::I32 => convert!(i32, 4),
        DtypeKind::U32 => convert!(u32, 4),
        DtypeKind::I64 => convert!(i64, 8),
        DtypeKind::U64 => convert!(u64, 8),
        DtypeKind::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                let raw = [b[0], b[1]];
                let bits = if dtype.little_endian {
                    u16::from_le_bytes(raw)
                } else {
                    u16::from_be_bytes(raw)
                };
                *o = f16_to_f64(bits);
            }
        }
    }
}

/// An IEEE half (as bits) widened to `f32`, exactly (every half is an `f32`): by bits, not
/// by powers, because it runs once per value of a float16 matrix on every widening.
#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let out = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m × 2⁻²⁴, exact in f32.
            let v = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(out)
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f64.powi(-24),
        0x1f if mantissa == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        e => sign * (1.0 + mantissa / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_half_widens_exactly() {
        for bits in 0..=u16::MAX {
            let fast = f16_to_f32(bits);
            let slow = f16_to_f64(bits);
            if slow.is_nan() {
                assert!(fast.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(f64::from(fast), slow, "{bits:#06x}");
                assert_eq!(fast.is_sign_negative(), bits & 0x8000 != 0, "{bits:#06x}");
            }
        }
    }

    /// Build `.npy` bytes by hand, independent of the writer under test.
    pub(crate) fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let dict = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}\n",
            if fortran { "True" } else { "False" }
        );
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn read(bytes: &[u8]) -> Result<Matrix, NpyError> {
        let source = Source::file("mem.npy");
        let mut r = bytes;
        let header = read_header(&mut r, &source)?;
        read_matrix(&mut r, &header, &source)
    }

    #[test]
    fn reads_f32_c_order() {
        let vals: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = read(&npy_bytes("<f4", false, "(2, 3)", &vals)).expect("valid");
        assert_eq!((m.n_rows, m.n_cols), (2, 3));
        assert_eq!(m.data, vec![1., 2., 3., 4., 5., 6.]);
    }

    #[test]
    fn transposes_fortran_order() {
        // Logical [[1,2,3],[4,5,6]] stored column by column.
        let vals: Vec<u8> = [1f64, 4., 2., 5., 3., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = read(&npy_bytes("<f8", true, "(2, 3)", &vals)).expect("valid");
        assert_eq!(m.data, vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(m.stored_dtype, DtypeKind::F64);
    }

    #[test]
    fn big_endian_and_integers_and_half() {
        let vals: Vec<u8> = [7i32, -3].iter().flat_map(|v| v.to_be_bytes()).collect();
        let m = read(&npy_bytes(">i4", false, "(2, 1)", &vals)).expect("valid");
        assert_eq!(m.data, vec![7., -3.]);
        // 1.0 and -2.5 in IEEE half precision.
        let half: Vec<u8> = [0x3c00u16, 0xc100]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = read(&npy_bytes("<f2", false, "(1, 2)", &half)).expect("valid");
        assert_eq!(m.data, vec![1.0, -2.5]);
    }

    #[test]
    fn a_damaged_shape_is_reported_before_anything_is_allocated_for_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("labels.npy");
        // 2³² int64 values promised (32 GiB), 8 bytes present.
        std::fs::write(&path, npy_bytes("<i8", false, "(4294967296,)", &[0u8; 8])).expect("write");
        let err = read_vector_file(&path).expect_err("truncated");
        assert!(
            matches!(err, NpyError::Truncated { expected, found: 8, .. } if expected == 1 << 35),
            "{err}"
        );
        assert!(err.to_string().contains("labels.npy"), "{err}");
        let err = read_matrix_file(&path).expect_err("truncated");
        assert!(matches!(err, NpyError::Truncated { .. }), "{err}");
        // A shape whose byte count overflows is a format error, not an overflow.
        let huge = format!("({}, 4)", usize::MAX / 2);
        std::fs::write(&path, npy_bytes("<f8", false, &huge, &[])).expect("write");
        let err = read_matrix_file(&path).expect_err("overflow");
        assert!(matches!(err, NpyError::Format { .. }), "{err}");
    }

    #[test]
    fn rejects_bad_files() {
        assert!(matches!(
            read(b"PK\x03\x04garbage"),
            Err(NpyError::Format { .. })
        ));
        let err = read(&npy_bytes("<U5", false, "(2, 3)", &[])).expect_err("strings");
        assert!(matches!(err, NpyError::Dtype { .. }), "{err}");
        let err = read(&npy_bytes("<f4", false, "(2, 3, 4)", &[])).expect_err("3-D");
        assert!(matches!(err, NpyError::Shape { .. }), "{err}");
        let err = read(&npy_bytes("<f4", false, "(2, 3)", &[0u8; 20])).expect_err("short");
        assert!(
            matches!(
                err,
                NpyError::Truncated {
                    expected: 24,
                    found: 20,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("mem.npy"));
    }
}
