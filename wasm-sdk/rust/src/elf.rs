//! Editing a BPF ELF object before load: setting `const volatile` globals
//! (`.rodata`) and initialised globals (`.data`), as libbpf skeletons do
//! with `skel->rodata->var = ...`.

use crate::{Error, Object, Plain, Result};

/// A BPF ELF object held in guest memory, editable before [`ObjectFile::load`].
#[derive(Clone, Debug)]
pub struct ObjectFile {
    bytes: Vec<u8>,
}

fn rd16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
fn rd32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn rd64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let s = b.get(at..)?;
    let end = s.iter().position(|&c| c == 0)?;
    Some(&s[..end])
}

struct Section {
    name: usize,
    kind: u32,
    offset: usize,
    size: usize,
    link: usize,
}

const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;

impl ObjectFile {
    /// Takes a copy of the object's bytes.
    pub fn new(bytes: &[u8]) -> ObjectFile {
        ObjectFile {
            bytes: bytes.to_vec(),
        }
    }

    /// The (possibly edited) bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn sections(&self) -> Option<Vec<Section>> {
        let b = &self.bytes;
        // 64-bit little-endian ELF
        if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
            return None;
        }
        let shoff = rd64(b, 0x28)? as usize;
        let shentsize = rd16(b, 0x3a)? as usize;
        let shnum = rd16(b, 0x3c)? as usize;
        if shentsize < 64 {
            return None;
        }
        let mut out = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
            out.push(Section {
                name: rd32(b, h)? as usize,
                kind: rd32(b, h + 4)?,
                offset: rd64(b, h + 24)? as usize,
                size: rd64(b, h + 32)? as usize,
                link: rd32(b, h + 40)? as usize,
            });
        }
        Some(out)
    }

    /// File offset and size of global variable `name` in `.rodata*`/`.data*`.
    fn find_global(&self, name: &str) -> Option<(usize, usize)> {
        let b = &self.bytes;
        let secs = self.sections()?;
        let shstrndx = rd16(b, 0x3e)? as usize;
        let shstr = secs.get(shstrndx)?;
        let symtab = secs.iter().find(|s| s.kind == SHT_SYMTAB)?;
        let strtab = secs.get(symtab.link)?;
        let mut at = symtab.offset;
        while at + 24 <= symtab.offset + symtab.size {
            let sname = cstr(b, strtab.offset + rd32(b, at)? as usize)?;
            let shndx = rd16(b, at + 6)? as usize;
            if sname == name.as_bytes() && shndx > 0 && shndx < secs.len() {
                let sec = &secs[shndx];
                let secname = cstr(b, shstr.offset + sec.name)?;
                let ok = secname.starts_with(b".rodata") || secname.starts_with(b".data");
                if ok && sec.kind != SHT_NOBITS {
                    let value = rd64(b, at + 8)? as usize;
                    let size = rd64(b, at + 16)? as usize;
                    if value.checked_add(size)? <= sec.size {
                        return Some((sec.offset + value, size));
                    }
                }
            }
            at += 24;
        }
        None
    }

    /// Sets global `name` (in `.rodata` or `.data`) to `value`, which must be
    /// exactly as large as the variable. `ENOENT` if there is no such
    /// initialised global, `EINVAL` on a size mismatch.
    pub fn set_global_bytes(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let (off, size) = self
            .find_global(name)
            .ok_or_else(|| Error::new("set global", Some(name), crate::errno::ENOENT))?;
        if size != value.len() {
            return Err(Error::new("set global", Some(name), crate::errno::EINVAL));
        }
        self.bytes[off..off + size].copy_from_slice(value);
        Ok(())
    }

    /// Sets global `name` to a [`Plain`] value of the same size.
    pub fn set_global<T: Plain>(&mut self, name: &str, value: &T) -> Result<()> {
        self.set_global_bytes(name, value.as_bytes())
    }

    /// Loads the (edited) object.
    pub fn load(&self) -> Result<Object> {
        Object::load(&self.bytes)
    }
}
