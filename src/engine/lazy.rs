//! The views of `queries/` planned when a statement first names them, not all at open: a
//! response plans the handful it reads (opening the SF1 snapshot spent 22 ms planning every
//! view, a fifth of a detail response).
//!
//! `Views` is the session's default schema: tables registered by the snapshot and the cache
//! go to the in-memory schema it wraps; a name that is not a table but a view of
//! `queries/` is planned with the session's state on first use and kept.

use async_trait::async_trait;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug, Default)]
pub struct Views {
    tables: MemorySchemaProvider,
    /// view name -> (file of queries/, its SELECT)
    definitions: Mutex<HashMap<String, (&'static str, String)>>,
    planned: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
    /// The state views are planned with (set once the session's functions are registered).
    state: OnceLock<SessionState>,
}

impl Views {
    pub fn define(&self, file: &'static str, name: &str, select: &str) {
        self.definitions
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), (file, select.to_string()));
    }

    /// Drop the planned views: the next statement naming one plans it again (with the tables
    /// registered since).
    pub fn forget_planned(&self) {
        self.planned.lock().expect("not poisoned").clear();
    }

    pub fn set_state(&self, state: SessionState) {
        let _ = self.state.set(state);
    }

    /// The tables registered in this schema (the snapshot's, the cache's), with their providers.
    pub async fn registered(&self) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
        let mut out = Vec::new();
        for name in self.tables.table_names() {
            if let Some(table) = self.tables.table(&name).await? {
                out.push((name, table));
            }
        }
        Ok(out)
    }

    pub fn view_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .definitions
            .lock()
            .expect("not poisoned")
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
}

#[async_trait]
impl SchemaProvider for Views {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.tables.table_names();
        names.extend(self.view_names());
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.tables.table(name).await? {
            return Ok(Some(t));
        }
        if let Some(v) = self.planned.lock().expect("not poisoned").get(name) {
            return Ok(Some(v.clone()));
        }
        let Some((file, select)) = self
            .definitions
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
        else {
            return Ok(None);
        };
        let state = self.state.get().ok_or_else(|| {
            DataFusionError::Internal(format!("view {name} named before the session was ready"))
        })?;
        let plan = state
            .create_logical_plan(&select)
            .await
            .map_err(|e| DataFusionError::Plan(format!("queries/{file}: view {name}: {e}")))?;
        let view: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan, Some(select)));
        self.planned
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), view.clone());
        Ok(Some(view))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        self.tables.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        self.tables.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.table_exist(name)
            || self
                .definitions
                .lock()
                .expect("not poisoned")
                .contains_key(name)
    }
}
