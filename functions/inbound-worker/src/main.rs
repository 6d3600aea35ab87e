//! Lambda entry point: wiring only.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // The table only: the event source mapping delivers its messages, it sends none.
    let app = shared_aws::app_from_env(Clients::dynamodb()).await?;
    let worker = std::sync::Arc::new(inbound_worker::worker(app));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(worker.run(event.payload).await) }
    }))
    .await
}
