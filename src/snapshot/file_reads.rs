//! Local files read on the thread that asks: `object_store`'s local file system with its small
//! reads done in place.
//!
//! `object_store::local::LocalFileSystem` hands every read to tokio's blocking pool: a footer
//! or a page is one hop to open the file and another to read it, each a wake-up of another
//! thread (a detail request on a cached SF1 snapshot opened 262 files, started 19 threads and
//! spent a tenth of its time in futex calls and context switches; docs/performance.md,
//! session 80). [`LocalFiles`] opens, stats and reads a range of at most [`INLINE_BYTES`] where
//! it is asked, which for a file in the page cache is a copy; a larger range (and a head) is
//! the open file, read by the pool as `LocalFileSystem` reads it; listings, writes and
//! anything it cannot do in place (a precondition, an error) go to `LocalFileSystem`, so every
//! error is the one that store gives.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use std::fmt;
use std::ops::Range;

/// The largest read done in place (bytes); a column chunk of a big row group is read by the
/// blocking pool, so that a runtime thread never waits long on a disk.
pub const INLINE_BYTES: u64 = 4 << 20;

/// The local file system, small reads in place (see the module's documentation).
#[derive(Debug, Default)]
pub struct LocalFiles {
    files: LocalFileSystem,
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.files, f)
    }
}

/// `location`'s file, open, its path and its metadata as `LocalFileSystem` gives them (same
/// e-tag); None when it is not a regular file that opens (the store's own call then says why).
/// Opened without blocking: a FIFO named like a file would wait for a writer on a runtime
/// thread (`LocalFileSystem` then waits on its pool, as before).
#[cfg(unix)]
fn open(
    files: &LocalFileSystem,
    location: &Path,
) -> Option<(std::fs::File, std::path::PathBuf, ObjectMeta)> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let path = files.path_to_filesystem(location).ok()?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    let m = file.metadata().ok()?;
    if !m.is_file() {
        return None;
    }
    let modified = m.modified().ok()?;
    let micros = modified
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let meta = ObjectMeta {
        location: location.clone(),
        last_modified: modified.into(),
        size: m.len(),
        e_tag: Some(format!("{:x}-{micros:x}-{:x}", m.ino(), m.len())),
        version: None,
    };
    Some((file, path, meta))
}

/// Elsewhere every call goes to `LocalFileSystem`.
#[cfg(not(unix))]
fn open(_: &LocalFileSystem, _: &Path) -> Option<(std::fs::File, std::path::PathBuf, ObjectMeta)> {
    None
}

/// Bytes `range` of `file`, all of them (None when the file is shorter or a read fails).
#[cfg(unix)]
fn read(file: &std::fs::File, range: &Range<u64>) -> Option<Bytes> {
    use std::os::unix::fs::FileExt as _;
    let mut buf = vec![0u8; usize::try_from(range.end.checked_sub(range.start)?).ok()?];
    file.read_exact_at(&mut buf, range.start).ok()?;
    Some(Bytes::from(buf))
}

#[cfg(not(unix))]
fn read(_: &std::fs::File, _: &Range<u64>) -> Option<Bytes> {
    None
}

impl LocalFiles {
    /// `options`' get of `location` answered here: a small range read, else the open file as
    /// `LocalFileSystem` returns it (a head's, or a large range's, read then by its pool).
    fn get_here(&self, location: &Path, options: &GetOptions) -> Option<GetResult> {
        let (file, path, meta) = open(&self.files, location)?;
        options.check_preconditions(&meta).ok()?;
        let range = match &options.range {
            Some(r) => r.as_range(meta.size).ok()?,
            None => 0..meta.size,
        };
        let payload = match options.head || range.end - range.start > INLINE_BYTES {
            true => GetResultPayload::File(file, path),
            false => {
                let bytes = read(&file, &range)?;
                GetResultPayload::Stream(Box::pin(futures::stream::once(async { Ok(bytes) })))
            }
        };
        Some(GetResult {
            payload,
            attributes: Default::default(),
            range,
            meta,
        })
    }

    /// `ranges` of `location` read here, when they are small in all.
    fn ranges_here(&self, location: &Path, ranges: &[Range<u64>]) -> Option<Vec<Bytes>> {
        let total = ranges.iter().fold(0u64, |total, r| {
            total.saturating_add(r.end.saturating_sub(r.start))
        });
        if total > INLINE_BYTES {
            return None;
        }
        let (file, _, _) = open(&self.files, location)?;
        ranges.iter().map(|r| read(&file, r)).collect()
    }
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.files.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.files.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        match self.get_here(location, &options) {
            Some(r) => Ok(r),
            None => self.files.get_opts(location, options).await,
        }
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        match self.ranges_here(location, ranges) {
            Some(r) => Ok(r),
            None => self.files.get_ranges(location, ranges).await,
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.files.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.files.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.files.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.files.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.files.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.files.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt as _;

    #[tokio::test]
    async fn reads_as_the_local_file_system_does() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        std::fs::write(&file, &data).unwrap();
        let at = Path::from_filesystem_path(&file).unwrap();
        let (ours, theirs) = (LocalFiles::default(), LocalFileSystem::new());
        assert_eq!(
            ours.head(&at).await.unwrap(),
            theirs.head(&at).await.unwrap()
        );
        for range in [0..10_000, 17..4_000, 9_990..10_000] {
            let got = ours.get_range(&at, range.clone()).await.unwrap();
            assert_eq!(got, theirs.get_range(&at, range.clone()).await.unwrap());
            assert_eq!(&got[..], &data[range.start as usize..range.end as usize]);
        }
        let ranges = [0..3, 100..200, 9_999..10_000];
        assert_eq!(
            ours.get_ranges(&at, &ranges).await.unwrap(),
            theirs.get_ranges(&at, &ranges).await.unwrap()
        );
        let whole = ours.get(&at).await.unwrap();
        assert_eq!(whole.meta, theirs.head(&at).await.unwrap());
        assert_eq!(whole.bytes().await.unwrap(), Bytes::from(data));
        let suffix = GetOptions::new().with_range(Some(object_store::GetRange::Suffix(10)));
        let got = ours.get_opts(&at, suffix.clone()).await.unwrap();
        assert_eq!(got.range, 9_990..10_000);
        assert_eq!(got.bytes().await.unwrap().len(), 10);
    }

    #[tokio::test]
    async fn heads_and_large_reads_are_the_open_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.bin");
        let data: Vec<u8> = (0..=250u8)
            .cycle()
            .take(INLINE_BYTES as usize + 10)
            .collect();
        std::fs::write(&file, &data).unwrap();
        let at = Path::from_filesystem_path(&file).unwrap();
        let (ours, theirs) = (LocalFiles::default(), LocalFileSystem::new());
        let head = GetOptions::new().with_head(true);
        let (a, b) = (
            ours.get_opts(&at, head.clone()).await.unwrap(),
            theirs.get_opts(&at, head).await.unwrap(),
        );
        assert!(matches!(a.payload, GetResultPayload::File(..)));
        assert_eq!(
            (a.range.clone(), a.meta.clone()),
            (b.range.clone(), b.meta.clone())
        );
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
        let all = ours.get(&at).await.unwrap();
        assert!(matches!(all.payload, GetResultPayload::File(..)));
        assert_eq!(all.bytes().await.unwrap(), Bytes::from(data.clone()));
        let ranges = [0..INLINE_BYTES, INLINE_BYTES..INLINE_BYTES + 10];
        let got = ours.get_ranges(&at, &ranges).await.unwrap();
        assert_eq!(got, theirs.get_ranges(&at, &ranges).await.unwrap());
        assert_eq!(&got[1][..], &data[INLINE_BYTES as usize..]);
    }

    /// A FIFO is not opened for reading by waiting for a writer: left to `LocalFileSystem`.
    #[test]
    fn a_fifo_is_not_read_here() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("main_taxon.parquet");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let at = Path::from_filesystem_path(&fifo).unwrap();
        assert!(open(&LocalFileSystem::new(), &at).is_none());
    }

    /// An outcome as text: the bytes read, or the error's message.
    fn said<T: std::fmt::Debug>(r: object_store::Result<T>) -> String {
        match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[tokio::test]
    async fn short_files_empty_ranges_and_missing_files_as_the_local_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("short.bin");
        std::fs::write(&file, b"0123456789").unwrap();
        let at = Path::from_filesystem_path(&file).unwrap();
        let folder = Path::from_filesystem_path(dir.path()).unwrap();
        let gone = folder.clone().join("gone.bin");
        let (ours, theirs) = (LocalFiles::default(), LocalFileSystem::new());
        let mut errors = 0;
        for path in [&at, &gone, &folder] {
            for range in [5..20, 0..1, 5..5, 10..11, 12..14] {
                let (a, b) = (
                    said(ours.get_range(path, range.clone()).await),
                    said(theirs.get_range(path, range.clone()).await),
                );
                assert_eq!(a, b, "get_range {path} {range:?}");
                errors += usize::from(a.starts_with("error"));
                let (a, b) = (
                    said(ours.get_ranges(path, std::slice::from_ref(&range)).await),
                    said(theirs.get_ranges(path, std::slice::from_ref(&range)).await),
                );
                assert_eq!(a, b, "get_ranges {path} {range:?}");
            }
            assert_eq!(said(ours.head(path).await), said(theirs.head(path).await));
        }
        // The missing file and the folder fail every read, the short file its empty and
        // out-of-bounds ones.
        assert!(errors >= 10, "{errors}");
    }
}
