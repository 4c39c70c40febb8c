using System.Net;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Security;

public sealed class AuthTests : IAsyncLifetime
{
    private TestApp _app = null!;

    public async Task InitializeAsync() => _app = await TestApp.StartAsync(new SqliteDatabase());

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _app.DeleteFolder();
    }

    /// <summary>Every /api route the app maps, read from the app itself rather than a hand-kept list.</summary>
    private List<(string Method, string Path)> ApiRoutes() =>
        _app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (m, "/" + e.RoutePattern.RawText!.Trim('/').Replace("{id}", "01a200f548c1781291f60471390fd8db", StringComparison.Ordinal)
                    .Replace("{slug}", "some-post", StringComparison.Ordinal))))
            .ToList();

    [Fact]
    public async Task Every_protected_route_answers_401_without_a_key()
    {
        var routes = ApiRoutes().Where(r => !(r.Method == "GET" && r.Path.StartsWith("/api/posts", StringComparison.Ordinal))).ToList();
        Assert.True(routes.Count >= 18, $"only {routes.Count} protected routes found");
        using var anonymous = _app.CreateClient();
        using var wrongKey = _app.CreateClient();
        wrongKey.DefaultRequestHeaders.Add("X-Api-Key", "not-the-key");
        foreach (var (method, path) in routes)
        {
            foreach (var client in new[] { anonymous, wrongKey })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path)
                {
                    Content = method is "POST" or "PATCH" ? new StringContent("{}", Encoding.UTF8, "application/json") : null,
                };
                var response = await client.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} answered {(int)response.StatusCode}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task Published_posts_are_public_and_both_key_headers_work()
    {
        using var anonymous = _app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/api/posts")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/api/posts/nothing-here")).StatusCode);

        using var bearer = _app.Api();
        Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync("/api/tasks")).StatusCode);
        using var header = _app.CreateClient();
        header.DefaultRequestHeaders.Add("X-Api-Key", TestApp.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await header.GetAsync("/api/tasks")).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_api()
    {
        using var client = _app.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/tasks/{id}/approve", document, StringComparison.Ordinal);
        Assert.Contains("/api/media/generate-image", document, StringComparison.Ordinal);
    }
}
