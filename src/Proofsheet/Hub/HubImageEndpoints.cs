using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.People;

namespace Proofsheet.Hub;

/// <summary>The Hub's image files: the preview itself, and the thumbnail and large view made from it.</summary>
public static class HubImageEndpoints
{
    public static RouteGroupBuilder MapHubImages(this RouteGroupBuilder hub)
    {
        hub.MapGet("/images/{id}/file", FileAsync).Allow(Access.Member);
        hub.MapGet("/images/{id}/thumb", (string id, AppDbContext db, PreviewDerivatives d, HttpContext http, CancellationToken ct) =>
            DerivativeAsync(id, PreviewDerivative.Thumb, db, d, http, ct)).Allow(Access.Member);
        hub.MapGet("/images/{id}/large", (string id, AppDbContext db, PreviewDerivatives d, HttpContext http, CancellationToken ct) =>
            DerivativeAsync(id, PreviewDerivative.Large, db, d, http, ct)).Allow(Access.Member);
        return hub;
    }

    /// <summary>A candidate's preview for the Hub's own pages, found by id in the database, never by a path from the request.</summary>
    private static async Task<IResult> FileAsync(string id, AppDbContext db, IPreviewStore previews, HttpContext http, CancellationToken ct)
    {
        var image = Ids.IsValid(id) ? await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct) : null;
        if (image is null)
        {
            return TypedResults.NotFound();
        }
        return await MediaEndpoints.ServePreviewAsync(image, previews, http, ct)
            ?? (image.CdnUrl is not null ? TypedResults.Redirect(image.CdnUrl) : TypedResults.NotFound());
    }

    private static async Task<IResult> DerivativeAsync(
        string id, PreviewDerivative kind, AppDbContext db, PreviewDerivatives derivatives, HttpContext http, CancellationToken ct)
    {
        var image = Ids.IsValid(id) ? await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct) : null;
        if (image is null)
        {
            return TypedResults.NotFound();
        }
        var etag = new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{image.Sha256[..32]}-{kind.ToString().ToLowerInvariant()}\"");
        if (http.Request.Headers.IfNoneMatch.ToString() == etag.Tag.ToString())
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }
        var content = await derivatives.OpenAsync(image, kind, ct);
        if (content is null)
        {
            // The preview is gone (published and cleaned up): the published image stands in.
            return image.CdnUrl is not null ? TypedResults.Redirect(image.CdnUrl) : TypedResults.NotFound();
        }
        http.Response.RegisterForDisposeAsync(content);
        MediaEndpoints.SetImageHeaders(http.Response);
        // A preview is written once and never replaced, so what is made from it never changes either.
        http.Response.Headers.CacheControl = "private, max-age=31536000, immutable";
        http.Response.ContentLength = content.Length;
        return TypedResults.Stream(content.Stream, "image/webp", lastModified: content.LastModified, entityTag: etag);
    }
}
