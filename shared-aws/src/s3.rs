//! S3 adapter of `BlobStore`: multipart upload and presigned GET. With an endpoint override
//! (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, e.g. moto) the client uses path-style
//! addressing, or bucket hostnames would not resolve (DESIGN §7).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use shared::error::{AppError, AppResult};
use shared::users::BlobStore;

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// From the shared SDK config; path-style when an endpoint override is set.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let overridden = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
            || sdk.endpoint_url().is_some();
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(overridden)
            .build();
        Self::new(Client::from_conf(conf), bucket)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn start_upload(&self, key: &str, content_type: &str) -> AppResult<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 CreateMultipartUpload", e))?;
        out.upload_id
            .ok_or_else(|| AppError::internal_msg("s3 CreateMultipartUpload returned no upload id"))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> AppResult<String> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 UploadPart", e))?;
        Ok(out.e_tag.unwrap_or_default())
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> AppResult<()> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                    .collect(),
            ))
            .build();
        let res = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // A 200 whose body the SDK cannot read (moto 5.2 names the XML root
            // `…Response` instead of `…Result`): the upload completed if the object exists.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|_| crate::errors::sdk("s3 CompleteMultipartUpload", e))?;
                Ok(())
            }
            Err(e) => Err(crate::errors::sdk("s3 CompleteMultipartUpload", e)),
        }
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> AppResult<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 AbortMultipartUpload", e))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires: Duration) -> AppResult<String> {
        let conf = PresigningConfig::expires_in(expires)
            .map_err(|e| AppError::internal("presign config", e))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(conf)
            .await
            .map_err(|e| crate::errors::sdk("s3 presign GetObject", e))?;
        Ok(req.uri().to_owned())
    }

    async fn read_all(&self, key: &str) -> AppResult<Vec<u8>> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 GetObject", e))?;
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| AppError::internal("s3 read body", e))?;
        Ok(data.into_bytes().to_vec())
    }
}
