//! Local HTTP targets on loopback ports: stand-ins for HubSpot, GHL, subscribers and the
//! Stripe/Close event-log APIs.

pub mod ghl;
pub mod providers;
pub mod webhook;

pub use ghl::Ghl;
pub use providers::ProviderApi;
pub use webhook::Target;

/// Serves `app` on a fresh loopback port (in the background): its address.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
