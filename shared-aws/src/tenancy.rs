//! DynamoDB adapter of `WorkspaceStore`: workspaces and their API keys (listed under the
//! workspace, found by hash).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::keys::{self};
use crate::table::{
    conditional, decode, delete, encode, key_attrs, n, put, s, update, DynamoStore, Tx, UpdateSpec,
};
use shared::error::{AppError, AppResult};
use shared::paging::Page;
use shared::tenancy::ports::WorkspaceStore;
use shared::tenancy::{ApiKey, Workspace};

#[async_trait]
impl WorkspaceStore for DynamoStore {
    async fn create_workspace(&self, ws: &Workspace, first_key: &ApiKey) -> AppResult<()> {
        let ws_item = encode(
            ws,
            &keys::workspace(&ws.id),
            &[
                (keys::GSI1PK, s(keys::WORKSPACES_INDEX_PK)),
                (keys::GSI1SK, s(&ws.id)),
                ("activeKeys", n(1)),
            ],
        )?;
        let items = Tx::new()
            .with(
                "workspace",
                put(&self.table, ws_item, Some("attribute_not_exists(pk)"), &[])?,
            )
            .with(
                "key",
                put(
                    &self.table,
                    encode(first_key, &keys::api_key(&ws.id, &first_key.id), &[])?,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            )
            .with(
                "key_hash",
                put(
                    &self.table,
                    encode(first_key, &keys::api_key_hash(&first_key.hash), &[])?,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            );
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) => Err(r.unexpected("create workspace")),
        }
    }

    async fn get_workspace(&self, id: &str) -> AppResult<Option<Workspace>> {
        self.get_as(&keys::workspace(id)).await
    }

    async fn list_workspaces(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Workspace>> {
        let (items, next_cursor) = self
            .query_gsi1_page(keys::WORKSPACES_INDEX_PK, cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<AppResult<_>>()?,
            next_cursor,
        })
    }

    async fn add_api_key(&self, key: &ApiKey) -> AppResult<()> {
        let items = Tx::new()
            .with(
                "workspace",
                update(
                    &self.table,
                    UpdateSpec {
                        key: &keys::workspace(&key.workspace_id),
                        expression: "ADD activeKeys :one",
                        condition: Some("attribute_exists(pk)"),
                        names: &[],
                        values: vec![(":one", n(1))],
                        return_old_on_failure: false,
                    },
                )?,
            )
            .with(
                "key",
                put(
                    &self.table,
                    encode(key, &keys::api_key(&key.workspace_id, &key.id), &[])?,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            )
            .with(
                "key_hash",
                put(
                    &self.table,
                    encode(key, &keys::api_key_hash(&key.hash), &[])?,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            );
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if r.failed("workspace") => Err(AppError::NotFound("workspace")),
            Err(r) => Err(r.unexpected("add api key")),
        }
    }

    async fn find_api_key(&self, hash_hex: &str) -> AppResult<Option<ApiKey>> {
        let key: Option<ApiKey> = self.get_as(&keys::api_key_hash(hash_hex)).await?;
        Ok(key.filter(|k| k.revoked_at.is_none()))
    }

    async fn list_api_keys(&self, workspace_id: &str) -> AppResult<Vec<ApiKey>> {
        let items = self
            .query_all(
                &keys::workspace(workspace_id).pk,
                keys::API_KEY_SK_PREFIX,
                false,
            )
            .await?;
        let mut keys: Vec<ApiKey> = items
            .into_iter()
            .map(decode)
            .collect::<AppResult<Vec<ApiKey>>>()?;
        keys.retain(|k| k.revoked_at.is_none());
        keys.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: &str,
    ) -> AppResult<ApiKey> {
        let listed = keys::api_key(workspace_id, key_id);
        let Some(mut key) = self.get_as::<ApiKey>(&listed).await? else {
            return Err(AppError::NotFound("api key"));
        };
        if key.revoked_at.is_some() {
            return Err(AppError::NotFound("api key"));
        }
        let items = Tx::new()
            .with("workspace", update(
                &self.table,
                UpdateSpec {
                    key: &keys::workspace(workspace_id),
                    expression: "ADD activeKeys :minus",
                    condition: Some("activeKeys > :one"),
                    names: &[],
                    values: vec![(":minus", n(-1)), (":one", n(1))],
                    return_old_on_failure: false,
                },
            )?)
            .with("key", update(
                &self.table,
                UpdateSpec {
                    key: &listed,
                    expression: "SET revokedAt = :now",
                    condition: Some("attribute_exists(pk) AND (attribute_not_exists(revokedAt) OR revokedAt = :null)"),
                    names: &[],
                    values: vec![(":now", s(now)), (":null", AttributeValue::Null(true))],
                    return_old_on_failure: false,
                },
            )?)
            .with("key_hash", delete(&self.table, &keys::api_key_hash(&key.hash), "attribute_exists(pk)", &[])?);
        match self.transact(items).await? {
            Ok(()) => {
                key.revoked_at = Some(now.to_owned());
                Ok(key)
            }
            Err(r) if r.failed("key") || r.failed("key_hash") => Err(AppError::NotFound("api key")),
            Err(r) if r.failed("workspace") => Err(AppError::validation(
                "the last active API key of a workspace cannot be revoked",
            )),
            Err(r) => Err(r.unexpected("revoke api key")),
        }
    }

    async fn touch_api_key(&self, key: &ApiKey, now: &str) -> AppResult<()> {
        // The key's two items (by id, by hash) are touched concurrently.
        let touch = |k: keys::Key| async move {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attrs(&k)))
                .update_expression("SET lastUsedAt = :now")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":now", s(now))
                .send()
                .await;
            conditional(res, "dynamodb touch api key")
        };
        futures::future::try_join(
            touch(keys::api_key(&key.workspace_id, &key.id)),
            touch(keys::api_key_hash(&key.hash)),
        )
        .await?;
        Ok(())
    }
}
