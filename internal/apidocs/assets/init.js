// Renders the service's own OpenAPI document; nothing is fetched from
// anywhere else (no validator badge, no CDN).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    tryItOutEnabled: false,
  });
});
