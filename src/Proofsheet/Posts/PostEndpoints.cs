using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
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
        var api = app.MapGroup("/api/posts").WithTags("Posts").AllowAnonymous();
        api.MapGet("/", ListAsync);
        api.MapGet("/{slug}", GetAsync);
        return app;
    }

    public static PostResponse ToResponse(this Post p) => new(
        p.Id, p.Slug, p.Title, p.Excerpt, p.Content, p.MetaDescription, $"/posts/{p.Slug}",
        p.FeaturedImageUrl, p.FeaturedImageAlt, p.FeaturedImageCredit, p.FeaturedImageCreditUrl, p.PublishedAt, p.UpdatedAt);

    private static async Task<IResult> ListAsync(AppDbContext db, int? limit, string? cursor, CancellationToken ct)
    {
        var checks = new Checks()
            .Range("limit", limit, 1, 100)
            .Rule(cursor is null || Cursor.TryDecode(cursor, out _), "cursor", "cursor is not one this API gave out.");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var query = db.Posts.AsNoTracking().Where(p => p.Status == PostStatus.Published);
        if (cursor is not null && Cursor.TryDecode(cursor, out var after))
        {
            #pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(p => string.Compare(p.Id, after) < 0);
#pragma warning restore CA1309
        }
        var take = limit ?? 20;
        // Ids are time-ordered, so newest-first by id is newest-first by creation.
        var page = await query.OrderByDescending(p => p.Id).Take(take + 1).ToListAsync(ct);
        var items = page.Take(take).ToList();
        return TypedResults.Ok(new PageResponse<PostResponse>(items.Select(p => p.ToResponse()).ToList(), page.Count > take ? Cursor.Encode(items[^1].Id) : null));
    }

    private static async Task<Results<Ok<PostResponse>, ProblemHttpResult>> GetAsync(string slug, AppDbContext db, CancellationToken ct)
    {
        var post = slug.Length <= Slug.MaxLength
            ? await db.Posts.AsNoTracking().SingleOrDefaultAsync(p => p.Slug == slug && p.Status == PostStatus.Published, ct)
            : null;
        return post is null ? Problems.NotFound("There is no published post with that slug.") : TypedResults.Ok(post.ToResponse());
    }
}
