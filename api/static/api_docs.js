// Starts Swagger UI on the page's element, reading the document from the address the page
// gives. A file of its own: the Content-Security-Policy allows scripts from the registry only,
// never inline. No validator badge: Swagger UI would fetch it from a third-party host.
(function () {
  "use strict";
  var root = document.getElementById("api-reference");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-document"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    showExtensions: true,
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    supportedSubmitMethods: ["get"],
  });
})();
