// Starts Swagger UI on /docs (a file, not an inline script: the CSP allows only 'self' scripts)
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // the session cookie goes with "Try it out" requests (same origin)
    withCredentials: true,
  });
})();
