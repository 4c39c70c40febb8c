using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing;
using Proofsheet.OpenApi;

namespace Proofsheet;

/// <summary>The HTTP conventions every feature shares: snake_case JSON, problem details for every error.</summary>
public static class Web
{
    public const long MaxRequestBodyBytes = 1024 * 1024;

    public static WebApplicationBuilder AddWeb(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower;
            // "3" is not 3: a wrong type is a client error, not something to guess at.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });
        // Body-binding failures (malformed JSON, wrong types) reach the exception handler, which
        // answers with a problem that says what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
            c.ProblemDetails.Detail ??= c.ProblemDetails.Status switch
            {
                StatusCodes.Status401Unauthorized => "This endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'.",
                StatusCodes.Status404NotFound => "Nothing is at this address.",
                StatusCodes.Status405MethodNotAllowed => "This address does not accept that method.",
                StatusCodes.Status413PayloadTooLarge => $"The request body is larger than {MaxRequestBodyBytes / 1024} KiB.",
                StatusCodes.Status415UnsupportedMediaType => "Send a JSON body with 'Content-Type: application/json'.",
                StatusCodes.Status429TooManyRequests => "Too many requests; slow down and try again.",
                >= 500 => "Something went wrong on the server; the error has been logged.",
                _ => null,
            });
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        builder.AddSecurity();
        builder.Services.AddApiDocument();
        return builder;
    }

    public static WebApplication UseWeb(this WebApplication app)
    {
        app.UseSecurity();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseGenerationLimit();
        return app;
    }

    private sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not BadHttpRequestException bad)
            {
                return false;
            }
            context.Response.StatusCode = bad.StatusCode;
            var detail = bad.InnerException is JsonException json
                ? $"The request body is not valid JSON for this endpoint{(json.Path is null ? "" : $" (at {json.Path})")}."
                : bad.Message;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails = { Status = bad.StatusCode, Title = "Bad request", Detail = detail },
            });
        }
    }
}
