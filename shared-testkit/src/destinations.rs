//! In-memory fake of `DestinationTableStore` (adapter `shared-aws/src/inbound/destinations.rs`):
//! tables exist only once a test creates them (`create_destination_table`), a table can be
//! made to deny access, and the ledger and the table change in one step.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde_json::Value;

use crate::inbound::InboundState;
use crate::memory::MemoryStore;
use shared::error::AppResult;
use shared::inbound::destination::{table_item, TableTarget, TableWrite};
use shared::inbound::domain::Record;
use shared::inbound::ports::DestinationTableStore;

#[derive(Default)]
pub(crate) struct FakeTables {
    /// table name → (key attribute of its schema, key value → item)
    tables: HashMap<String, (String, HashMap<String, Value>)>,
    denied: HashSet<String>,
}

impl MemoryStore {
    /// A destination table keyed by `key_attribute` (what CreateTable does on DynamoDB).
    pub fn create_destination_table(&self, name: &str, key_attribute: &str) {
        self.with_ext::<InboundState, _>(|st| {
            st.tables
                .tables
                .insert(name.to_owned(), (key_attribute.to_owned(), HashMap::new()));
        });
    }

    /// From now on writes to `name` are refused with access denied (an IAM policy without it).
    pub fn deny_destination_table(&self, name: &str) {
        self.with_ext::<InboundState, _>(|st| {
            st.tables.denied.insert(name.to_owned());
        });
    }
}

#[async_trait]
impl DestinationTableStore for MemoryStore {
    async fn apply_to_table(
        &self,
        ws: &str,
        job_id: &str,
        target: &TableTarget,
        r: &Record,
    ) -> AppResult<TableWrite> {
        self.injected_conflict()?;
        Ok(self.with_ext::<InboundState, _>(|st| {
            let name = &target.table_name;
            if st.tables.denied.contains(name) {
                return TableWrite::Refused(format!(
                    "access to destination table {name} was denied (the worker may write only to tables named with the DestinationTablePrefix)"
                ));
            }
            let Some((schema_key, _)) = st.tables.tables.get(name) else {
                return TableWrite::Refused(format!(
                    "destination table {name} does not exist (create it in this account and region, or PATCH the job's destination)"
                ));
            };
            if *schema_key != target.key_attribute {
                return TableWrite::Refused(format!(
                    "destination table {name} refused the item: One or more parameter values were invalid: Missing the key {schema_key} in the item"
                ));
            }
            let key = (
                ws.to_owned(),
                job_id.to_owned(),
                r.object_type.clone(),
                r.object_id.clone(),
            );
            if !r.supersedes(st.records.get(&key).map(|s| &s.meta)) {
                return TableWrite::Unchanged;
            }
            st.records.insert(
                key,
                Record {
                    data: None,
                    ..r.clone()
                },
            );
            let item_key = shared_aws::keys::destination_item(&r.object_type, &r.object_id);
            let Some((_, items)) = st.tables.tables.get_mut(name) else {
                return TableWrite::Unchanged;
            };
            if r.meta.deleted {
                items.remove(&item_key);
            } else {
                let mut item = table_item(r);
                item.insert(target.key_attribute.clone(), Value::String(item_key.clone()));
                items.insert(item_key, Value::Object(item));
            }
            TableWrite::Applied
        }))
    }

    async fn get_table_item(
        &self,
        target: &TableTarget,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<Value>> {
        let key = shared_aws::keys::destination_item(object_type, object_id);
        Ok(self.with_ext::<InboundState, _>(|st| {
            st.tables
                .tables
                .get(&target.table_name)
                .and_then(|(_, items)| items.get(&key).cloned())
        }))
    }
}
