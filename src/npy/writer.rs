//! Writing `.npy` files: C-ordered `f32`/`i64` arrays, atomically, with NumPy's header padding.

use std::io::{self, Write};
use std::path::Path;

use super::{CHUNK_BYTES, MAGIC, NpyError};
use crate::atomic;

/// Element types this module writes.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for i64 {
    const DESCR: &'static str = "<i8";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Write a C-ordered array, atomically: the file appears complete or not at all.
pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> Result<(), NpyError> {
    let write_err = |source| NpyError::Write {
        path: path.to_owned(),
        source,
    };
    if shape.iter().product::<usize>() != data.len() {
        return Err(write_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("shape {shape:?} does not match {} values", data.len()),
        )));
    }
    atomic::write_with(path, |file| {
        let mut w = io::BufWriter::with_capacity(CHUNK_BYTES, file);
        w.write_all(&header_bytes(T::DESCR, shape))?;
        let mut buf = Vec::with_capacity(CHUNK_BYTES);
        for chunk in data.chunks(CHUNK_BYTES / 8) {
            buf.clear();
            for &v in chunk {
                v.write_le(&mut buf);
            }
            w.write_all(&buf)?;
        }
        w.flush()
    })
    .map_err(write_err)
}

/// A version 1.0 header, padded so the data starts on a 64-byte boundary as NumPy does.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // The header length fits in u16: the dict is a few dozen bytes plus < 64 of padding.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::{DtypeKind, read_matrix_file, read_vector_file};

    #[test]
    fn writer_round_trips_and_pads_to_64() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.npy");
        write(&path, &[2, 2], &[1f32, 2., 3., 4.]).expect("write");
        let bytes = std::fs::read(&path).expect("read back");
        assert_eq!((bytes.len() - 16) % 64, 0, "data offset is 64-aligned");
        let m = read_matrix_file(&path).expect("valid");
        assert_eq!(m.data, vec![1., 2., 3., 4.]);
        let ipath = dir.path().join("i.npy");
        write(&ipath, &[3], &[5i64, -1, 9]).expect("write");
        let (v, kind) = read_vector_file(&ipath).expect("valid");
        assert_eq!((v, kind), (vec![5., -1., 9.], DtypeKind::I64));
    }
}
