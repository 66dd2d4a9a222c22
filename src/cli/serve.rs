//! /metrics, /healthz and /readyz.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::metrics::Metrics;

pub async fn serve(listener: tokio::net::TcpListener, metrics: Metrics) {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = metrics.encode();
                async move {
                    (
                        [(
                            CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics server stopped");
    }
}
