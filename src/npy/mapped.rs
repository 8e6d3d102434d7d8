//! Memory-mapping a `.npy` file whose data can be used as it lies (native-endian float32 or
//! float16 in row order), so a multi-gigabyte features file opens without a second copy.

use std::fmt;
use std::io;
use std::path::Path;

use super::{DtypeKind, NpyError, Source, open};

/// A 2-D float32 or float16 array in a `.npy` file, mapped into memory rather than read: the
/// pages come from the operating system's file cache when touched, so there is no second copy
/// of a multi-gigabyte matrix and opening it costs nothing. Float16 stays float16 here (half
/// the memory); it is widened where arithmetic needs it.
pub struct MappedMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub elem: MappedElem,
    map: memmap2::Mmap,
    /// Where the data starts (after the header).
    offset: usize,
}

/// The element type of a mapped matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappedElem {
    F32,
    /// IEEE half precision, as raw bits.
    F16,
}

impl MappedElem {
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }
}

impl MappedMatrix {
    fn bytes(&self) -> &[u8] {
        &self.map[self.offset..self.offset + self.n_rows * self.n_cols * self.elem.size()]
    }

    /// The values, if the file holds float32.
    pub fn as_f32(&self) -> Option<&[f32]> {
        // Checked when mapped: the start is aligned (the map is page-aligned and the offset a
        // multiple of the element size) and the length a multiple of it.
        (self.elem == MappedElem::F32).then(|| {
            bytemuck::try_cast_slice(self.bytes())
                .unwrap_or_else(|_| unreachable!("checked when mapped"))
        })
    }

    /// The values' bits, if the file holds float16.
    pub fn as_f16(&self) -> Option<&[u16]> {
        (self.elem == MappedElem::F16).then(|| {
            bytemuck::try_cast_slice(self.bytes())
                .unwrap_or_else(|_| unreachable!("checked when mapped"))
        })
    }
}

impl fmt::Debug for MappedMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MappedMatrix({} × {}, {:?})",
            self.n_rows, self.n_cols, self.elem
        )
    }
}

/// Map a `.npy` file whose data can be used as it lies: native-endian float32 or float16 in
/// row order (C order, or one row or column). `Ok(None)` for any other layout, which must be
/// read and converted ([`read_matrix_file`](super::read_matrix_file)).
pub fn map_matrix_file(path: &Path) -> Result<Option<MappedMatrix>, NpyError> {
    let source = Source::file(path);
    let (header, mut reader) = open(path)?;
    let [n_rows, n_cols] = match header.shape.as_slice() {
        [n, d] => [*n, *d],
        [n] => [*n, 1],
        _ => return Ok(None),
    };
    let native = header.dtype.little_endian == cfg!(target_endian = "little");
    let elem = match header.dtype.kind {
        DtypeKind::F32 => MappedElem::F32,
        DtypeKind::F16 => MappedElem::F16,
        _ => return Ok(None),
    };
    if !native || (header.fortran_order && n_rows > 1 && n_cols > 1) {
        return Ok(None);
    }
    let io_err = |e| NpyError::Io {
        source_name: source.clone(),
        source: e,
    };
    let offset = io::Seek::stream_position(&mut reader).map_err(io_err)? as usize;
    if !offset.is_multiple_of(elem.size()) {
        return Ok(None);
    }
    let file = reader.into_inner();
    // SAFETY: the map is read-only and lives in the returned value, which owns it. What the
    // type system cannot promise is that no other process truncates or rewrites the file
    // while it is mapped (a truncation would fault on access); the same holds for every tool
    // that memory-maps its input (NumPy's mmap_mode, databases). The README says not to
    // rewrite a features file while it is open.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
    // `open` checked the header against the length; check the map itself, which is what is
    // read from.
    let needed = offset as u64 + header.data_bytes();
    if (map.len() as u64) < needed {
        return Err(NpyError::Truncated {
            source_name: source,
            expected: header.data_bytes(),
            found: (map.len() as u64).saturating_sub(offset as u64),
        });
    }
    Ok(Some(MappedMatrix {
        n_rows,
        n_cols,
        elem,
        map,
        offset,
    }))
}
