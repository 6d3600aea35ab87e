//! Lambda entry point: wiring only.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Table + SQS: the event source mapping delivers its messages; a failed event raises an
    // alert on the delivery queue.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    let worker = std::sync::Arc::new(inbound_worker::worker(app));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(worker.run(event.payload).await) }
    }))
    .await
}
