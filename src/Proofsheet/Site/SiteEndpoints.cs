using System.Globalization;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Posts;
using Proofsheet.Publishing;
using Proofsheet.Tasks;

namespace Proofsheet.Site;

/// <summary>The public blog: published posts only, rendered on the server, plus RSS and a sitemap.</summary>
public static class SiteEndpoints
{
    public const int PageSize = 10;

    public static IEndpointRouteBuilder MapSite(this IEndpointRouteBuilder app)
    {
        var site = app.MapGroup("").AllowAnonymous().ExcludeFromDescription().CachedAsPublished();
        site.MapGet("/", HomeAsync);
        site.MapGet("/posts/{slug}", PostAsync);
        site.MapGet("/feed.xml", FeedAsync);
        site.MapGet("/sitemap.xml", SitemapAsync);
        site.MapGet("/robots.txt", (PublicUrls urls) => TypedResults.Text(
            $"User-agent: *\nDisallow: /hub\nDisallow: /api\n\nSitemap: {urls.Absolute("/sitemap.xml")}\n", "text/plain; charset=utf-8"));
        // Made once per process from a file that ships with the app: the same on every node.
        var favicon = new Lazy<byte[]>(() => Favicon.Ico(File.ReadAllBytes(Path.Combine(app.ServiceProvider.GetRequiredService<IWebHostEnvironment>().WebRootPath, "favicon.svg"))));
        app.MapGet("/favicon.ico", (HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "public, max-age=604800";
            return TypedResults.Bytes(favicon.Value, "image/x-icon");
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static IQueryable<Post> Published(AppDbContext db) => db.Posts.AsNoTracking().Where(p => p.Status == PostStatus.Published);

    private static async Task<RazorComponentResult> HomeAsync(AppDbContext db, PublicUrls urls, int? page, CancellationToken ct)
    {
        var number = Math.Clamp(page ?? 1, 1, 100_000);
        var posts = await Published(db).OrderByDescending(p => p.PublishedAt).ThenByDescending(p => p.Id)
            .Skip((number - 1) * PageSize).Take(PageSize + 1).ToListAsync(ct);
        return new RazorComponentResult<HomePage>(new
        {
            Posts = posts.Take(PageSize).ToList(),
            Page = number,
            HasMore = posts.Count > PageSize,
            BaseUrl = urls.BaseUrl,
        });
    }

    private static async Task<IResult> PostAsync(string slug, AppDbContext db, PublicUrls urls, CancellationToken ct)
    {
        var post = slug.Length <= Slug.MaxLength ? await Published(db).SingleOrDefaultAsync(p => p.Slug == slug, ct) : null;
        if (post is null && slug.Length <= Slug.MaxLength)
        {
            // An earlier address of a post whose slug was changed after publishing: moved for good.
            var moved = await (from r in db.PostRedirects.AsNoTracking()
                               join p in Published(db) on r.PostId equals p.Id
                               where r.Slug == slug
                               select p.Slug).SingleOrDefaultAsync(ct);
            if (moved is not null)
            {
                return TypedResults.Redirect($"/posts/{moved}", permanent: true);
            }
        }
        return post is null
            ? new RazorComponentResult<SiteNotFound>() { StatusCode = 404 }
            : new RazorComponentResult<PostPage>(new { Post = post, BaseUrl = urls.BaseUrl });
    }

    private static async Task<IResult> FeedAsync(AppDbContext db, PublicUrls urls, CancellationToken ct)
    {
        var posts = await Published(db).OrderByDescending(p => p.PublishedAt).Take(50).ToListAsync(ct);
        // An enclosure states the file's real length: the published image's size as recorded when it was made.
        var imageUrls = posts.Select(p => p.FeaturedImageUrl).OfType<string>().ToList();
        var images = (await db.Images.AsNoTracking().Where(i => i.CdnUrl != null && imageUrls.Contains(i.CdnUrl))
                .Select(i => new { i.CdnUrl, i.ByteSize, i.ContentType }).ToListAsync(ct))
            .DistinctBy(i => i.CdnUrl).ToDictionary(i => i.CdnUrl!);
        var baseUrl = urls.BaseUrl;
        var sb = new StringBuilder();
        using (var xml = XmlWriter.Create(sb, new XmlWriterSettings { Indent = true, Encoding = Encoding.UTF8 }))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("rss");
            xml.WriteAttributeString("version", "2.0");
            xml.WriteAttributeString("xmlns", "atom", null, "http://www.w3.org/2005/Atom");
            xml.WriteAttributeString("xmlns", "content", null, ContentNs);
            xml.WriteStartElement("channel");
            xml.WriteElementString("title", "Proofsheet");
            xml.WriteElementString("link", baseUrl + "/");
            xml.WriteElementString("description", "Posts published with Proofsheet.");
            xml.WriteStartElement("atom", "link", "http://www.w3.org/2005/Atom");
            xml.WriteAttributeString("href", baseUrl + "/feed.xml");
            xml.WriteAttributeString("rel", "self");
            xml.WriteAttributeString("type", "application/rss+xml");
            xml.WriteEndElement();
            if (posts.Count > 0)
            {
                xml.WriteElementString("lastBuildDate", Rfc822(posts.Max(p => p.PublishedAt ?? p.UpdatedAt)));
            }
            foreach (var post in posts)
            {
                var link = $"{baseUrl}/posts/{post.Slug}";
                xml.WriteStartElement("item");
                xml.WriteElementString("title", post.Title);
                xml.WriteElementString("link", link);
                xml.WriteStartElement("guid");
                xml.WriteAttributeString("isPermaLink", "true");
                xml.WriteString(link);
                xml.WriteEndElement();
                xml.WriteElementString("pubDate", Rfc822(post.PublishedAt ?? post.UpdatedAt));
                xml.WriteElementString("description", post.Excerpt ?? post.MetaDescription ?? "");
                // The whole post, as the page shows it, for readers that display items in full.
                xml.WriteStartElement("content", "encoded", ContentNs);
                xml.WriteCData(Markdown.ToHtml(post.Content).Value.Replace("]]>", "]]]]><![CDATA[>", StringComparison.Ordinal));
                xml.WriteEndElement();
                // A feed may only state a real length; an image of unknown size (an older post) gets no enclosure.
                if (post.FeaturedImageUrl is not null && Uri.TryCreate(post.FeaturedImageUrl, UriKind.Absolute, out _)
                    && images.TryGetValue(post.FeaturedImageUrl, out var image) && image.ByteSize > 0)
                {
                    xml.WriteStartElement("enclosure");
                    xml.WriteAttributeString("url", post.FeaturedImageUrl);
                    xml.WriteAttributeString("length", image.ByteSize.ToString(CultureInfo.InvariantCulture));
                    xml.WriteAttributeString("type", image.ContentType);
                    xml.WriteEndElement();
                }
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteEndElement();
            xml.WriteEndDocument();
        }
        // StringBuilder output says utf-16 in the declaration; the bytes sent are UTF-8.
        return TypedResults.Text(sb.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal), "application/rss+xml; charset=utf-8");
    }

    private static async Task<IResult> SitemapAsync(AppDbContext db, PublicUrls urls, CancellationToken ct)
    {
        var posts = await Published(db).OrderByDescending(p => p.PublishedAt).Select(p => new { p.Slug, p.UpdatedAt }).Take(50_000).ToListAsync(ct);
        const string ns = "http://www.sitemaps.org/schemas/sitemap/0.9";
        var sb = new StringBuilder();
        using (var xml = XmlWriter.Create(sb, new XmlWriterSettings { Indent = true }))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("urlset", ns);
            xml.WriteStartElement("url", ns);
            xml.WriteElementString("loc", ns, urls.BaseUrl + "/");
            xml.WriteEndElement();
            foreach (var post in posts)
            {
                xml.WriteStartElement("url", ns);
                xml.WriteElementString("loc", ns, $"{urls.BaseUrl}/posts/{post.Slug}");
                xml.WriteElementString("lastmod", ns, post.UpdatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteEndDocument();
        }
        return TypedResults.Text(sb.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal), "application/xml; charset=utf-8");
    }

    private const string ContentNs = "http://purl.org/rss/1.0/modules/content/";

    private static string Rfc822(DateTime utc) => utc.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
}
