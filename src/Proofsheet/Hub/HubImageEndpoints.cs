using System.Globalization;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Tasks;
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
        hub.MapPost("/images/{id}/focus", FocusAsync).Allow(Access.Editor);
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
        return image is null ? TypedResults.NotFound() : await ServeDerivativeAsync(image, kind, derivatives, http, ct);
    }

    /// <summary>A thumbnail or large view of a candidate the caller has already found and is allowed to see.</summary>
    internal static async Task<IResult> ServeDerivativeAsync(ImageCandidate image, PreviewDerivative kind, PreviewDerivatives derivatives, HttpContext http, CancellationToken ct)
    {
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

    /// <summary>
    /// The focal-point control on the large view (FocusPicker.razor, focus.js): the point as fractions in
    /// <c>x</c> and <c>y</c>, or <c>clear</c>. Answers 204, or a sentence for the reviewer with 400/404/409.
    /// </summary>
    private static async Task<IResult> FocusAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return Say(400, "The page is out of date: reload it and place the point again.");
        }
        if (!Ids.IsValid(id))
        {
            return Say(404, "That image is not there any more.");
        }
        var form = await http.Request.ReadFormAsync(ct);
        FocalPoint? focus = null;
        if (form["clear"].Count == 0)
        {
            if (!double.TryParse(form["x"], NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
                || !double.TryParse(form["y"], NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
            {
                return Say(400, "Click the point on the image, or use one of the nine buttons.");
            }
            focus = new FocalPoint(x, y);
        }
        var outcome = await actions.SetFocusAsync(id, focus, ct);
        return outcome.Kind switch
        {
            OutcomeKind.Ok => TypedResults.NoContent(),
            OutcomeKind.NotFound => Say(404, "That image is not there any more."),
            OutcomeKind.Invalid => Say(400, "The point must be on the image: click inside it, or use one of the nine buttons."),
            _ => Say(409, "This image is already published or in the trash, so its crops can no longer change."),
        };

        // The page shows the answer as it is: a sentence, not JSON.
        static IResult Say(int status, string sentence) => TypedResults.Text(sentence, "text/plain; charset=utf-8", statusCode: status);
    }
}
