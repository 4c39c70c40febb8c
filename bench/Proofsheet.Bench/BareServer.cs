using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Proofsheet.Bench;

/// <summary>
/// The comparison for the read path: Kestrel answering each path with bytes held in memory (the
/// same bytes and content type the app sent), no routing, no database, nothing else.
/// </summary>
public static class BareServer
{
    public sealed record Page(byte[] Body, string ContentType);

    public static Task<StandInServer> StartAsync(IReadOnlyDictionary<string, Page> pages) =>
        StandInServer.StartAsync(app => app.Run(async context =>
        {
            if (!pages.TryGetValue(context.Request.Path.Value ?? "", out var page))
            {
                context.Response.StatusCode = 404;
                return;
            }
            context.Response.ContentType = page.ContentType;
            context.Response.ContentLength = page.Body.Length;
            await context.Response.Body.WriteAsync(page.Body);
        }));
}
