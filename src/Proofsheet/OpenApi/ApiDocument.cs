using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace Proofsheet.OpenApi;

/// <summary>
/// What <c>/openapi/v1.json</c> says beyond what the endpoints' metadata gives: the two ways to
/// send an API key, which operations need one, and a server address without a trailing slash.
/// A client generator reads this document, so it must describe every answer a client can get.
/// </summary>
public static class ApiDocument
{
    public const string Bearer = "bearer";
    public const string ApiKeyHeader = "apiKey";

    public static IServiceCollection AddApiDocument(this IServiceCollection services) => services.AddOpenApi(o =>
    {
        o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Proofsheet API";
            document.Info.Description =
                "Ask for a post, watch it being drafted and illustrated, pick a featured image and approve it to publish. " +
                "Every error is a problem document (RFC 9457). See docs/api.md in the repository.";
            document.Info.License = new OpenApiLicense { Name = "Proprietary", Url = new Uri("https://example.invalid/proofsheet/license") };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key from Auth:ApiKeys (or one made in the Hub), sent as 'Authorization: Bearer KEY'.",
            };
            document.Components.SecuritySchemes[ApiKeyHeader] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Api-Key",
                Description = "The same API key, sent as 'X-Api-Key: KEY'.",
            };
            document.Tags = new HashSet<OpenApiTag>
            {
                new() { Name = "Tasks", Description = "A task asks for a post and carries it through drafting, images, approval and publishing." },
                new() { Name = "Media", Description = "Candidate images: make them, list them, fetch or discard them." },
                new() { Name = "Posts", Description = "Published posts; public, no key needed." },
            };
            foreach (var server in document.Servers ?? [])
            {
                // The address the document was asked at; a trailing slash would double every path's slash.
                server.Url = server.Url?.TrimEnd('/');
            }
            return Task.CompletedTask;
        });
        o.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
            {
                // Either scheme is enough: two requirements, not one with both.
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, context.Document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyHeader, context.Document)] = [] },
                ];
            }
            else
            {
                // Public (published posts): an empty requirement says "no key needed".
                operation.Security = [new OpenApiSecurityRequirement()];
            }
            return Task.CompletedTask;
        });
    });

    /// <summary>Every operation of an API group that needs a key can answer 401.</summary>
    public static RouteGroupBuilder NeedsApiKey(this RouteGroupBuilder group) =>
        group.RequireAuthorization(Auth.AuthExtensions.ApiPolicy).ProducesProblem(StatusCodes.Status401Unauthorized);

    /// <summary>A generation endpoint: rate limited per key (429).</summary>
    public static RouteHandlerBuilder Limited(this RouteHandlerBuilder endpoint) =>
        endpoint.RequireRateLimiting(Security.GenerationPolicy).ProducesProblem(StatusCodes.Status429TooManyRequests);

    /// <summary>An endpoint that reads or writes the candidate images, so it answers 503 while their store does not.</summary>
    public static RouteHandlerBuilder TouchesPreviews(this RouteHandlerBuilder endpoint) =>
        endpoint.ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>An endpoint that takes input it checks: a 400 with the field errors.</summary>
    public static RouteHandlerBuilder Checked(this RouteHandlerBuilder endpoint) =>
        endpoint.ProducesValidationProblem();

    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder endpoint, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            endpoint.ProducesProblem(status);
        }
        return endpoint;
    }
}
