//! Lambda entry point: wiring only.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Table + S3: the export is streamed into the bucket (messages come from the event source).
    let app = shared_aws::app_from_env(Clients::dynamodb().s3()).await?;
    let runner = std::sync::Arc::new(export_worker::runner(app));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let runner = runner.clone();
        async move { Ok::<_, Error>(runner.run(event.payload).await) }
    }))
    .await
}
