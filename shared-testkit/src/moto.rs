//! Tests over moto: starts the two moto processes of DESIGN §7 on free loopback ports (once per
//! test binary), gives each test a fresh table and queues, builds the `App` over them, and
//! feeds queue messages to a consumer like the Lambda event source.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use shared::config::Config;
use shared::queue::QueueName;
use shared::App;
use shared_aws::sqs::SqsQueue;
use shared_aws::table::DynamoStore;

use crate::calls::CallLog;

pub struct Moto {
    pub dynamodb_url: String,
    pub sqs_url: String,
    // Held so the children live as long as the test binary; they exit when stdin closes.
    _children: Mutex<Vec<Child>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn spawn_moto(port: u16, single_threaded: bool) -> Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/stack/moto_server.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg("--port")
        .arg(port.to_string())
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if single_threaded {
        cmd.arg("--single-threaded");
    }
    cmd.spawn()
        .expect("could not start moto: pip install \"moto[server]\"")
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto did not start on port {port}");
}

/// The moto pair of this test binary: DynamoDB single-threaded (atomic conditional writes),
/// SQS threaded (long polls).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let (dp, sp) = (free_port(), free_port());
        let children = vec![spawn_moto(dp, true), spawn_moto(sp, false)];
        wait_listening(dp);
        wait_listening(sp);
        Moto {
            dynamodb_url: format!("http://127.0.0.1:{dp}"),
            sqs_url: format!("http://127.0.0.1:{sp}"),
            _children: Mutex::new(children),
        }
    })
}

/// The production loader (its one HTTP client: `load()` panics without one), pointed at moto.
async fn sdk() -> aws_config::SdkConfig {
    shared_aws::wiring::sdk_config_loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    dynamo_client_logged(None).await
}

/// A DynamoDB client on moto; with a log, every call it makes is recorded there.
pub async fn dynamo_client_logged(log: Option<&CallLog>) -> aws_sdk_dynamodb::Client {
    let mut conf =
        aws_sdk_dynamodb::config::Builder::from(&sdk().await).endpoint_url(&moto().dynamodb_url);
    if let Some(log) = log {
        conf = conf.interceptor(log.interceptor("DynamoDB"));
    }
    aws_sdk_dynamodb::Client::from_conf(conf.build())
}

/// A DynamoDB client for `endpoint` (a fault-injecting server, say) with `timeouts`.
pub async fn dynamo_client_at(
    endpoint: &str,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk().await)
        .endpoint_url(endpoint)
        .timeout_config(timeouts)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub async fn sqs_client() -> aws_sdk_sqs::Client {
    sqs_client_logged(None).await
}

/// An SQS client on moto; with a log, every call it makes is recorded there.
pub async fn sqs_client_logged(log: Option<&CallLog>) -> aws_sdk_sqs::Client {
    let mut conf = aws_sdk_sqs::config::Builder::from(&sdk().await).endpoint_url(&moto().sqs_url);
    if let Some(log) = log {
        conf = conf.interceptor(log.interceptor("SQS"));
    }
    aws_sdk_sqs::Client::from_conf(conf.build())
}

/// S3 on the threaded moto (the one serving SQS), path-style as the adapter uses it.
pub async fn s3_client() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk().await)
        .endpoint_url(&moto().sqs_url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The presigner production wires (`Clients::s3_presign`), on moto's endpoint (path-style).
pub fn s3_presigner(bucket: &str) -> shared_aws::s3::S3Presigner {
    shared_aws::s3::S3Presigner::new(
        Some(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new("test", "test", None, None, "moto"),
        )),
        Some("us-east-1".to_owned()),
        Some(moto().sqs_url.clone()),
        bucket,
    )
}

/// An S3 blob store on moto for `bucket` (uploads through `client`, links from `s3_presigner`).
pub fn s3_blob_store(client: aws_sdk_s3::Client, bucket: &str) -> shared_aws::s3::S3BlobStore {
    shared_aws::s3::S3BlobStore::new(client, s3_presigner(bucket))
}

/// A new bucket for export files.
pub async fn fresh_bucket(client: &aws_sdk_s3::Client) -> String {
    let name = unique("bkt").to_ascii_lowercase();
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", shared::ids::new_id("t").replace('_', "-"))
}

/// A new table with the production definition (fresh names keep moto fast, DESIGN §7).
pub async fn fresh_store() -> DynamoStore {
    let client = dynamo_client().await;
    let name = unique("tbl");
    shared_aws::table::create_table(&client, &name)
        .await
        .expect("create table");
    DynamoStore::new(client, name)
}

/// Writes `items` straight into the table with BatchWriteItem, 25 at a time, until none is
/// left unprocessed (no transactions: moto's cost grows with the table, DESIGN §7).
pub async fn batch_put(
    store: &DynamoStore,
    items: &[HashMap<String, aws_sdk_dynamodb::types::AttributeValue>],
) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    for chunk in items.chunks(25) {
        let writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put request"),
                    )
                    .build()
            })
            .collect();
        let mut pending = HashMap::from([(store.table().to_owned(), writes)]);
        while !pending.is_empty() {
            let out = store
                .client()
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .expect("batch write");
            pending = out.unprocessed_items.unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
        }
    }
}

/// A queue with a DLQ (maxReceiveCount 5) like the template's.
pub async fn fresh_queue(client: &aws_sdk_sqs::Client, visibility_secs: u32) -> String {
    let dlq = client
        .create_queue()
        .queue_name(unique("dlq"))
        .send()
        .await
        .expect("create dlq");
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap_or_default())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq arn")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    let q = client
        .create_queue()
        .queue_name(unique("q"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5" })
                .to_string(),
        )
        .send()
        .await
        .expect("create queue");
    q.queue_url().unwrap_or_default().to_owned()
}

/// Everything a test over moto needs.
pub struct MotoApp {
    pub app: App,
    pub store: Arc<DynamoStore>,
    pub sqs: aws_sdk_sqs::Client,
    pub delivery_queue_url: String,
}

pub async fn moto_app() -> MotoApp {
    moto_app_logged(None).await
}

/// [`moto_app`] whose DynamoDB and SQS clients record every call in `log` (the table and
/// queue are created before recording starts: clear the log after setup anyway).
pub async fn moto_app_logged(log: Option<&CallLog>) -> MotoApp {
    let client = dynamo_client_logged(log).await;
    let name = unique("tbl");
    shared_aws::table::create_table(&client, &name)
        .await
        .expect("create table");
    let store = Arc::new(DynamoStore::new(client, name));
    let sqs = sqs_client_logged(log).await;
    let delivery_queue_url = fresh_queue(&sqs, 30).await;
    let config = Config::for_tests(store.table(), &delivery_queue_url);
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([(QueueName::Delivery, delivery_queue_url.clone())]),
    );
    let app = App::new(config, store.clone(), Arc::new(queue));
    MotoApp {
        app,
        store,
        sqs,
        delivery_queue_url,
    }
}

/// A moto app with both queues of the inbound pipeline (DynamoDB on a fresh table).
pub struct InboundMotoApp {
    pub app: App,
    pub store: Arc<DynamoStore>,
    pub sqs: aws_sdk_sqs::Client,
    pub delivery_url: String,
    pub inbound_url: String,
}

/// The inbound pipeline's app over moto: a fresh table, a delivery queue with
/// `delivery_visibility_secs` and an inbound queue with a 1 s visibility timeout (a failed
/// message is visible again within the test); `Config::for_tests` (retries due at once).
pub async fn inbound_moto_app(delivery_visibility_secs: u32) -> InboundMotoApp {
    let store = Arc::new(fresh_store().await);
    let sqs = sqs_client().await;
    let delivery_url = fresh_queue(&sqs, delivery_visibility_secs).await;
    let inbound_url = fresh_queue(&sqs, 1).await;
    let mut config = Config::for_tests(store.table(), &delivery_url);
    config.inbound_queue_url = Some(inbound_url.clone());
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([
            (QueueName::Delivery, delivery_url.clone()),
            (QueueName::Inbound, inbound_url.clone()),
        ]),
    );
    let app = App::new(config, store.clone(), Arc::new(queue));
    InboundMotoApp {
        app,
        store,
        sqs,
        delivery_url,
        inbound_url,
    }
}

pub use crate::harness::workspace;

/// Receives what is visible on the delivery queue and runs it through `handle` like the
/// Lambda event source: only the successes are deleted. Returns how many messages it saw.
pub async fn pump_once<F, Fut>(sqs: &aws_sdk_sqs::Client, queue_url: &str, handle: F) -> usize
where
    F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let resp = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let msgs = resp.messages.unwrap_or_default();
    if msgs.is_empty() {
        return 0;
    }
    let triples: Vec<(String, String, u32)> = msgs
        .iter()
        .map(|m| {
            let count = m
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            (
                m.message_id().unwrap_or_default().to_owned(),
                m.body().unwrap_or_default().to_owned(),
                count,
            )
        })
        .collect();
    let refs: Vec<(&str, &str, u32)> = triples
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
        .collect();
    let result = handle(shared::sqs_runner::event_from_bodies(&refs)).await;
    let failed: Vec<&str> = result
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for m in &msgs {
        if !failed.contains(&m.message_id().unwrap_or_default()) {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    msgs.len()
}

/// A sync-job destination table (DESIGN §8) on moto: `name` keyed by the string attribute
/// `key_attribute`, on demand.
pub async fn create_destination_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    key_attribute: &str,
) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key_attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key_attribute)
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("create destination table");
}
