//! An executor's local file system: the same files as `object_store`'s, with read errors that
//! name the executor. On a cluster, a snapshot path is read by every executor, and a path that
//! only the client's machine sees fails on an executor: its error reaches the client through
//! the scheduler, so it says which executor and which path (`error::executor_read_error` cuts
//! it out of Ballista's job error).

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{EXECUTOR_READ_ADVICE as ADVICE, EXECUTOR_READ_PREFIX as PREFIX};

/// The local file system of the executor advertised as `executor` (`HOST:PORT`).
#[derive(Debug)]
pub struct ExecutorFiles {
    files: Arc<LocalFileSystem>,
    executor: String,
}

impl ExecutorFiles {
    pub fn new(executor: String) -> ExecutorFiles {
        ExecutorFiles {
            files: Arc::new(LocalFileSystem::new()),
            executor,
        }
    }

    fn named(&self, e: object_store::Error) -> object_store::Error {
        named(&self.executor, e)
    }
}

/// `e`, as an error naming the executor and the path it could not read.
fn named(executor: &str, e: object_store::Error) -> object_store::Error {
    use object_store::Error as E;
    let (what, cause) = match &e {
        E::NotFound { path, source }
        | E::PermissionDenied { path, source }
        | E::Unauthenticated { path, source } => (path.clone(), source.to_string()),
        // The local store's other errors: `Unable to open file PATH: CAUSE`, …
        E::Generic { source, .. } => {
            let text = source.to_string();
            match (text.strip_prefix("Unable to open file ")).and_then(|t| t.rsplit_once(": ")) {
                Some((path, cause)) => (path.to_string(), cause.to_string()),
                None => ("a local file".to_string(), text),
            }
        }
        _ => ("a local file".to_string(), e.to_string()),
    };
    E::Generic {
        store: "LocalFileSystem",
        source: format!("{PREFIX}{executor} cannot read {what}: {cause} {ADVICE}").into(),
    }
}

impl fmt::Display for ExecutorFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExecutorFiles({})", self.executor)
    }
}

#[async_trait]
impl ObjectStore for ExecutorFiles {
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
        (self.files.get_opts(location, options).await).map_err(|e| self.named(e))
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        (self.files.get_ranges(location, ranges).await).map_err(|e| self.named(e))
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.files.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let executor = self.executor.clone();
        self.files
            .list(prefix)
            .map(move |r| r.map_err(|e| named(&executor, e)))
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let executor = self.executor.clone();
        self.files
            .list_with_offset(prefix, offset)
            .map(move |r| r.map_err(|e| named(&executor, e)))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        (self.files.list_with_delimiter(prefix).await).map_err(|e| self.named(e))
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
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn a_missing_file_names_the_executor_and_the_path() {
        let store = ExecutorFiles::new("10.0.0.5:50051".into());
        let e = store
            .get(&Path::from("no/such/dir/main_occurrence.parquet"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "executor 10.0.0.5:50051 cannot read /no/such/dir/main_occurrence.parquet: "
            ),
            "{e}"
        );
        // As Ballista reports it to the client: quoted with `{:?}` inside its job error.
        let job = format!(
            "Job abc failed due to stage 1 failed: Task 0 in Stage 1 failed 4 times, fail the \
             stage, most recent failure reason: {:?}",
            format!("Object Store error: {e}")
        );
        let m = crate::error::executor_read_error(&job).unwrap();
        assert!(
            m.starts_with(
                "executor 10.0.0.5:50051 cannot read /no/such/dir/main_occurrence.parquet: "
            ),
            "{m}"
        );
        assert!(m.ends_with(ADVICE), "{m}");
        assert_eq!(
            crate::error::executor_read_error("Job abc failed: something else"),
            None
        );
        // "executor " inside the path: the message still starts at the executor's name.
        let e = named(
            "h:1",
            object_store::Error::NotFound {
                path: "/data/executor files/a.parquet".into(),
                source: "No such file or directory".into(),
            },
        );
        assert_eq!(
            crate::error::executor_read_error(&format!("x: {e}")).unwrap(),
            format!(
                "executor h:1 cannot read /data/executor files/a.parquet: \
                 No such file or directory {ADVICE}"
            )
        );
    }
}
