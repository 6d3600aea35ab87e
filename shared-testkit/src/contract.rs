//! The contract-suite macro: each behaviour of a port is written once, as an async function
//! generic over the port, and runs against the in-memory fake AND the AWS adapter on moto;
//! `all_pages` walks a cursor chain for the listing behaviours.

/// `contract!(a, b, …)` instantiates `fake::a` (over a new `MemoryStore`) and `dynamo::a`
/// (over a fresh table on moto) for each named behaviour `async fn a(store: &S)`.
///
/// `contract!(fake: EXPR, NAME: EXPR; a, b, …)` takes the two subjects (and the second
/// module's name) explicitly, e.g. for the queue port (`sqs`). The expressions are evaluated
/// inside the generated modules, which see everything of the calling module.
#[macro_export]
macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        $crate::contract!(
            fake: $crate::memory::MemoryStore::new(),
            dynamo: $crate::moto::fresh_store().await;
            $($name),+
        );
    };
    (fake: $fake:expr, $real_mod:ident: $real:expr; $($name:ident),+ $(,)?) => {
        mod fake {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                super::$name(&$fake).await;
            })+
        }
        mod $real_mod {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                super::$name(&$real).await;
            })+
        }
    };
}

/// Every item of a cursor chain, in order, as `each` makes it: `page` is called with no
/// cursor, then with each page's `next_cursor` until a page has none. Asserts that each page
/// holds at most `limit` items and that the chain ends (within 100 pages).
pub async fn all_pages<T, U>(
    limit: u32,
    mut page: impl AsyncFnMut(Option<String>) -> shared::paging::Page<T>,
    each: impl FnMut(T) -> U,
) -> Vec<U> {
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let p = page(cursor).await;
        assert!(
            p.items.len() <= limit as usize,
            "a page holds at most `limit` items"
        );
        seen.extend(p.items);
        cursor = p.next_cursor;
        if cursor.is_none() {
            return seen.into_iter().map(each).collect();
        }
    }
    panic!("the cursor chain does not end");
}
