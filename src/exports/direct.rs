//! An export's file written around the page cache (Linux's `O_DIRECT`), where the file system
//! allows it.
//!
//! An export is written once and not read back by occlens. Through the page cache, every page
//! of a multi-gigabyte JSON export is first copied into a newly allocated cache page; on the
//! virtual machines measured that copy costs more than making the text (SF1, project 1's
//! detail export, 3.3 GB: 9.1 s of system time buffered, 1.3–2.2 s direct; `dd` of 3.4 GB:
//! 6.2–10.9 s against 1.7–2.8 s). Direct writes need block-aligned memory, sizes and
//! offsets, so the bytes gather in an aligned buffer written whole; the last, partial block is
//! written padded and the file then cut to its length.
//!
//! Where the file system refuses `O_DIRECT` (tmpfs before Linux 6.6, some network and FUSE
//! file systems) or a direct write fails as unaligned, the file is written through the page
//! cache as before.
//!
//! Unlike a `BufWriter`, nothing is written when a `DirectFile` is dropped: only
//! [`DirectFile::finish`] writes the last bytes. After any error the file is to be thrown away
//! (a failed write may have written part of the buffer).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Alignment of a direct write's memory, size and offset: the largest logical block size in
/// use (4,096 covers 512-byte devices too).
const ALIGN: usize = 4096;
/// Bytes gathered before a write (a multiple of ALIGN).
const BUFFER: usize = 8 << 20;

/// A file being written, direct where possible; [`DirectFile::finish`] writes what is left.
#[must_use = "only DirectFile::finish writes the last bytes"]
pub struct DirectFile {
    file: File,
    /// Allocated with 2 × ALIGN bytes to spare (alignment, and a test's skew); the buffer is
    /// `buf[start..start + BUFFER]`.
    buf: Vec<u8>,
    start: usize,
    /// Bytes gathered in the buffer.
    filled: usize,
    /// Bytes written to the file so far.
    written: u64,
    direct: bool,
}

impl DirectFile {
    /// Create (or truncate) `path` for writing.
    pub fn create(path: &Path) -> io::Result<DirectFile> {
        Self::create_skewed(path, 0)
    }

    /// For tests: the buffer `skew` bytes off its alignment, so that a direct write is refused
    /// (EINVAL) and the file goes on through the page cache.
    #[doc(hidden)]
    pub fn create_skewed(path: &Path, skew: usize) -> io::Result<DirectFile> {
        let (file, direct) = open(path)?;
        let buf = vec![0u8; BUFFER + 2 * ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN) + skew % ALIGN;
        Ok(DirectFile {
            file,
            buf,
            start,
            filled: 0,
            written: 0,
            direct,
        })
    }

    /// Whether the file is (still) written around the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Write everything gathered and return the file, its length exactly the bytes written.
    pub fn finish(mut self) -> io::Result<File> {
        let tail = self.filled;
        if tail > 0 {
            if self.direct {
                // A whole last block, padded with zeros, then the file cut to its length.
                let padded = tail.div_ceil(ALIGN) * ALIGN;
                self.buf[self.start + tail..self.start + padded].fill(0);
                self.filled = padded;
                self.drain(padded)?;
                self.written -= (padded - tail) as u64;
                self.file.set_len(self.written)?;
            } else {
                self.drain(tail)?;
            }
        }
        Ok(self.file)
    }

    /// Write the buffer's first `n` bytes (a multiple of ALIGN when direct), keeping the rest.
    fn drain(&mut self, n: usize) -> io::Result<()> {
        let (start, end) = (self.start, self.start + n);
        let mut done = start;
        while done < end {
            match self.file.write(&self.buf[done..end]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EINVAL: the file system takes the flag but not this write (or a short write
                // left the rest unaligned): the rest goes through the page cache.
                Err(e)
                    if self.direct
                        && e.raw_os_error() == Some(libc::EINVAL)
                        && buffered(&self.file) =>
                {
                    self.direct = false
                }
                Err(e) => return Err(e),
            }
        }
        self.written += n as u64;
        self.buf
            .copy_within(end..self.start + self.filled, self.start);
        self.filled -= n;
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.filled == BUFFER {
            self.drain(BUFFER)?;
        }
        let n = data.len().min(BUFFER - self.filled);
        let at = self.start + self.filled;
        self.buf[at..at + n].copy_from_slice(&data[..n]);
        self.filled += n;
        Ok(n)
    }

    /// Writes the whole blocks gathered; while direct, a partial last block waits for
    /// [`DirectFile::finish`] (unlike `BufWriter::flush`, not everything is written).
    fn flush(&mut self) -> io::Result<()> {
        let whole = if self.direct {
            self.filled / ALIGN * ALIGN
        } else {
            self.filled
        };
        if whole > 0 {
            self.drain(whole)?;
        }
        Ok(())
    }
}

/// `path` opened for writing, direct when the file system allows it.
#[cfg(target_os = "linux")]
fn open(path: &Path) -> io::Result<(File, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    match options.clone().custom_flags(libc::O_DIRECT).open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((options.open(path)?, false)),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open(path: &Path) -> io::Result<(File, bool)> {
    Ok((File::create(path)?, false))
}

/// Clear `O_DIRECT` on `file`; false if that failed.
#[cfg(target_os = "linux")]
fn buffered(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this File owns, with flags read from it.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn buffered(_: &File) -> bool {
    false
}
