using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.OpenApi;
using Proofsheet.Tasks;

namespace Proofsheet.Posts;

public sealed record PostResponse(
    string Id, string Slug, string Title, string? Excerpt, string? Content, string? MetaDescription, string Url,
    string? FeaturedImageUrl, string? FeaturedImageAlt, string? FeaturedImageCredit, string? FeaturedImageCreditUrl,
    DateTime? PublishedAt, DateTime UpdatedAt);

public static class PostEndpoints
{
    public static IEndpointRouteBuilder MapPosts(this IEndpointRouteBuilder app)
    {
        // Published posts are public: no key needed.
        var api = app.MapGroup("/api/posts").WithTags("Posts").AllowAnonymous().CachedAsPublished();
        api.MapGet("/", ListAsync).ProducesValidationProblem()
            .Produces<PageResponse<PostResponse>>()
            .WithName("listPosts").WithSummary("List published posts, newest first");
        api.MapGet("/{slug}", GetAsync).Problems(StatusCodes.Status404NotFound)
            .WithName("getPost").WithSummary("Read one published post");
        return app;
    }

    public static PostResponse ToResponse(this Post p) => new(
        p.Id, p.Slug, p.Title, p.Excerpt, p.Content, p.MetaDescription, $"/posts/{p.Slug}",
        p.FeaturedImageUrl, p.FeaturedImageAlt, p.FeaturedImageCredit, p.FeaturedImageCreditUrl, p.PublishedAt, p.UpdatedAt);

    private static async Task<IResult> ListAsync(AppDbContext db, int? limit, string? cursor, CancellationToken ct)
    {
        (DateTime At, string Id) after = default;
        var checks = new Checks()
            .Range("limit", limit, 1, 100)
            .Rule(cursor is null || TryDecode(cursor, out after), "cursor", "cursor is not one this API gave out.");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var query = db.Posts.AsNoTracking().Where(p => p.Status == PostStatus.Published && p.PublishedAt != null);
        if (cursor is not null)
        {
#pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(p => p.PublishedAt < after.At || (p.PublishedAt == after.At && string.Compare(p.Id, after.Id) < 0));
#pragma warning restore CA1309
        }
        var take = limit ?? 20;
        var page = await query.OrderByDescending(p => p.PublishedAt).ThenByDescending(p => p.Id).Take(take + 1).ToListAsync(ct);
        var items = page.Take(take).ToList();
        return TypedResults.Ok(new PageResponse<PostResponse>(
            items.Select(p => p.ToResponse()).ToList(),
            page.Count > take ? Encode(items[^1]) : null));
    }

    /// <summary>Newest first by publication: the cursor is the last post's publication time and id.</summary>
    private static string Encode(Post last) =>
        Cursor.Encode(last.Id) + "." + last.PublishedAt!.Value.Ticks.ToString(CultureInfo.InvariantCulture);

    private static bool TryDecode(string cursor, out (DateTime At, string Id) after)
    {
        after = default;
        var dot = cursor.LastIndexOf('.');
        if (dot < 0 || !Cursor.TryDecode(cursor[..dot], out var id)
            || !long.TryParse(cursor[(dot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks > DateTime.MaxValue.Ticks)
        {
            return false;
        }
        after = (new DateTime(ticks, DateTimeKind.Utc), id);
        return true;
    }

    private static async Task<Results<Ok<PostResponse>, ProblemHttpResult>> GetAsync(string slug, AppDbContext db, CancellationToken ct)
    {
        var post = slug.Length <= Slug.MaxLength
            ? await db.Posts.AsNoTracking().SingleOrDefaultAsync(p => p.Slug == slug && p.Status == PostStatus.Published, ct)
            : null;
        return post is null ? Problems.NotFound("There is no published post with that slug.") : TypedResults.Ok(post.ToResponse());
    }
}
