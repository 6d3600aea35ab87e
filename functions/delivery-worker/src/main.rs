//! Lambda entry point: wiring only.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Table + SQS: retries, fan-out and chained delays are sent back to the queue.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    let runner = std::sync::Arc::new(delivery_worker::runner(app));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let runner = runner.clone();
        async move { Ok::<_, Error>(runner.run(event.payload).await) }
    }))
    .await
}
