/**
 * Swagger UI's files from the `swagger-ui-dist` package, imported as text, so they are part of
 * the module graph: they work offline and inside a `deno compile` binary, with no CDN and no file
 * read at run time. `api_docs.ts` loads this module on the first request for them: held from the
 * start, the 1.9 MB of text cost every gateway 5 MiB of memory, used or not.
 */
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerUiCss from "swagger-ui-dist/swagger-ui.css" with { type: "text" };

export { swaggerUiBundle, swaggerUiCss };
