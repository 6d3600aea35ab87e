//! Contract of `WorkspaceStore`: every behaviour is written once and runs against the
//! in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use std::collections::BTreeSet;

use shared::error::AppError;
use shared::ids::{new_id, API_KEY, WORKSPACE};
use shared::tenancy::ports::WorkspaceStore;
use shared::tenancy::{ApiKey, Workspace};
use shared::time::now_string;
use shared_testkit::contract::all_pages;

shared_testkit::contract!(
    a_created_workspace_is_found_by_its_first_key,
    unknown_workspaces_and_key_hashes_are_not_found,
    an_added_key_is_found_by_its_hash,
    adding_a_key_to_an_unknown_workspace_is_not_found,
    listed_keys_exclude_revoked_ones_newest_first,
    a_revoked_key_is_no_longer_found_by_its_hash,
    the_last_active_key_cannot_be_revoked,
    revoking_twice_is_not_found_and_counts_once,
    a_foreign_or_unknown_key_cannot_be_revoked,
    touch_sets_last_used_at,
    listing_workspaces_page_by_page_sees_each_once,
    a_malformed_workspace_cursor_is_a_validation_error,
);

fn workspace(name: &str) -> Workspace {
    Workspace {
        id: new_id(WORKSPACE),
        name: name.to_owned(),
        created_at: now_string(),
    }
}

fn key_of(ws: &Workspace) -> ApiKey {
    let id = new_id(API_KEY);
    ApiKey {
        hash: shared::http::sha256_hex(id.as_bytes()),
        prefix: id.chars().take(12).collect(),
        id,
        workspace_id: ws.id.clone(),
        created_at: now_string(),
        last_used_at: None,
        revoked_at: None,
    }
}

/// A workspace with `n` active keys (the first one created with it).
async fn workspace_with_keys<S: WorkspaceStore + ?Sized>(
    s: &S,
    n: usize,
) -> (Workspace, Vec<ApiKey>) {
    let ws = workspace("acme");
    let first = key_of(&ws);
    s.create_workspace(&ws, &first).await.unwrap();
    let mut keys = vec![first];
    for _ in 1..n {
        let k = key_of(&ws);
        s.add_api_key(&k).await.unwrap();
        keys.push(k);
    }
    (ws, keys)
}

/// Revokes key `key_id` of `ws`, now.
async fn revoke<S: WorkspaceStore + ?Sized>(
    s: &S,
    ws: &Workspace,
    key_id: &str,
) -> Result<ApiKey, AppError> {
    s.revoke_api_key(&ws.id, key_id, &now_string()).await
}

/// Asserts that `key` is found, as it is, by its hash.
async fn assert_found<S: WorkspaceStore + ?Sized>(s: &S, key: &ApiKey) {
    let found = s.find_api_key(&key.hash).await.unwrap();
    assert_eq!(found.as_ref(), Some(key));
}

fn ids(keys: &[ApiKey]) -> Vec<String> {
    keys.iter().map(|k| k.id.clone()).collect()
}

async fn a_created_workspace_is_found_by_its_first_key<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 1).await;
    assert_eq!(s.get_workspace(&ws.id).await.unwrap(), Some(ws.clone()));
    assert_found(s, &keys[0]).await;
    assert_eq!(s.list_api_keys(&ws.id).await.unwrap(), keys);
}

async fn unknown_workspaces_and_key_hashes_are_not_found<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, _) = workspace_with_keys(s, 1).await;
    assert_eq!(s.get_workspace(&new_id(WORKSPACE)).await.unwrap(), None);
    let stranger = key_of(&ws);
    assert_eq!(s.find_api_key(&stranger.hash).await.unwrap(), None);
    assert!(s
        .list_api_keys(&new_id(WORKSPACE))
        .await
        .unwrap()
        .is_empty());
}

async fn an_added_key_is_found_by_its_hash<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 2).await;
    assert_found(s, &keys[1]).await;
    assert_eq!(
        s.find_api_key(&keys[1].hash)
            .await
            .unwrap()
            .unwrap()
            .workspace_id,
        ws.id
    );
}

async fn adding_a_key_to_an_unknown_workspace_is_not_found<S: WorkspaceStore + ?Sized>(s: &S) {
    let orphan = key_of(&workspace("never created"));
    let err = s.add_api_key(&orphan).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(s.find_api_key(&orphan.hash).await.unwrap(), None);
    assert_eq!(s.get_workspace(&orphan.workspace_id).await.unwrap(), None);
}

async fn listed_keys_exclude_revoked_ones_newest_first<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 3).await;
    revoke(s, &ws, &keys[1].id).await.unwrap();
    let listed = ids(&s.list_api_keys(&ws.id).await.unwrap());
    let mut expected = ids(&[keys[0].clone(), keys[2].clone()]);
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(listed, expected);
}

async fn a_revoked_key_is_no_longer_found_by_its_hash<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 2).await;
    let now = now_string();
    let revoked = s.revoke_api_key(&ws.id, &keys[0].id, &now).await.unwrap();
    assert_eq!(revoked.id, keys[0].id);
    assert_eq!(revoked.revoked_at.as_deref(), Some(now.as_str()));
    assert_eq!(s.find_api_key(&keys[0].hash).await.unwrap(), None);
    assert_found(s, &keys[1]).await;
}

async fn the_last_active_key_cannot_be_revoked<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 1).await;
    let err = revoke(s, &ws, &keys[0].id).await.unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
    assert_found(s, &keys[0]).await;
    assert_eq!(s.list_api_keys(&ws.id).await.unwrap(), keys);
}

async fn revoking_twice_is_not_found_and_counts_once<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 3).await;
    revoke(s, &ws, &keys[1].id).await.unwrap();
    let err = revoke(s, &ws, &keys[1].id).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    // Two keys are still active: one more revoke works, then the last one is protected.
    revoke(s, &ws, &keys[2].id).await.unwrap();
    let err = revoke(s, &ws, &keys[0].id).await.unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
    assert_eq!(
        ids(&s.list_api_keys(&ws.id).await.unwrap()),
        ids(&keys[..1])
    );
}

async fn a_foreign_or_unknown_key_cannot_be_revoked<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ours, _) = workspace_with_keys(s, 2).await;
    let (theirs, their_keys) = workspace_with_keys(s, 2).await;
    let err = revoke(s, &ours, &their_keys[0].id).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_found(s, &their_keys[0]).await;
    assert_eq!(s.list_api_keys(&theirs.id).await.unwrap().len(), 2);
    let err = revoke(s, &ours, &new_id(API_KEY)).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

async fn touch_sets_last_used_at<S: WorkspaceStore + ?Sized>(s: &S) {
    let (ws, keys) = workspace_with_keys(s, 1).await;
    let now = now_string();
    s.touch_api_key(&keys[0], &now).await.unwrap();
    let found = s.find_api_key(&keys[0].hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at.as_deref(), Some(now.as_str()));
    let listed = s.list_api_keys(&ws.id).await.unwrap();
    assert_eq!(listed[0].last_used_at.as_deref(), Some(now.as_str()));
}

async fn listing_workspaces_page_by_page_sees_each_once<S: WorkspaceStore + ?Sized>(s: &S) {
    let mut created = BTreeSet::new();
    for _ in 0..5 {
        created.insert(workspace_with_keys(s, 1).await.0.id);
    }
    let seen: Vec<String> = all_pages(
        2,
        async |c| s.list_workspaces(c.as_deref(), 2).await.unwrap(),
        |w| w.id,
    )
    .await;
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no workspace twice: {seen:?}");
    assert_eq!(unique, created);
}

async fn a_malformed_workspace_cursor_is_a_validation_error<S: WorkspaceStore + ?Sized>(s: &S) {
    workspace_with_keys(s, 1).await;
    let err = s
        .list_workspaces(Some("not a cursor!"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
}
