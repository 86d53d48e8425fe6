//! Plans sent between a cluster's processes carry occlens's functions by name (each process
//! registers them, `cluster::session_state`), except for the one piece of state a function
//! holds: the time zone of `wall_clock`, written beside its name by these codecs. Everything
//! else is Ballista's own encoding.

use crate::functions::render_udf;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;

fn encode_zone(f: &ScalarUDF, buf: &mut Vec<u8>) {
    if let Some(tz) = render_udf::wall_clock_zone(f) {
        buf.extend_from_slice(tz.name().as_bytes());
    }
}

/// `wall_clock` for the zone written in `buf`; None for another function.
fn decode_zone(name: &str, buf: &[u8]) -> Option<Result<Arc<ScalarUDF>>> {
    (name == "wall_clock").then(|| {
        let zone = std::str::from_utf8(buf).unwrap_or_default();
        let tz: chrono_tz::Tz = zone.parse().map_err(|_| {
            DataFusionError::Plan(format!(
                "wall_clock: unknown time zone {zone:?} in the plan"
            ))
        })?;
        Ok(Arc::new(render_udf::wall_clock(tz)))
    })
}

#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: datafusion::arrow::datatypes::SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_zone(name, buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_zone(node, buf);
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_zone(name, buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_zone(node, buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_keeps_its_zone_across_processes() {
        let f = render_udf::wall_clock(chrono_tz::Europe::Paris);
        let mut buf = Vec::new();
        LogicalCodec::default()
            .try_encode_udf(&f, &mut buf)
            .unwrap();
        let back = PhysicalCodec::default()
            .try_decode_udf("wall_clock", &buf)
            .unwrap();
        assert_eq!(
            render_udf::wall_clock_zone(&back),
            Some(chrono_tz::Europe::Paris)
        );
        let mut other = Vec::new();
        let py_float = datafusion::prelude::SessionContext::new();
        crate::engine::catalog::register_functions(&py_float);
        let f =
            datafusion::execution::FunctionRegistry::udf(&py_float.state(), "py_float").unwrap();
        LogicalCodec::default()
            .try_encode_udf(&f, &mut other)
            .unwrap();
        assert!(other.is_empty(), "stateless functions travel by name only");
    }
}
