using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.Configuration;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Writing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Proofsheet.Tests;

public sealed class OutlineWriterTests
{
    [Theory]
    [InlineData("Write about Making Muffins", "Making Muffins")]
    [InlineData("write a blog post about the history of tea", "The History of Tea")]
    [InlineData("Please write an article on iPhone photography.", "iPhone Photography")]
    [InlineData("Sourdough", "Sourdough")]
    public async Task The_title_comes_from_the_topic(string topic, string title)
    {
        var draft = await new OutlineWriter().WriteAsync(new ArticleRequest(topic, null, null, 800), CancellationToken.None);
        Assert.Equal(title, draft.Title);
    }

    [Fact]
    public async Task The_draft_is_deterministic_marked_as_a_draft_and_complete()
    {
        var request = new ArticleRequest("Write about Making Muffins", "playful", "new bakers", 1500);
        var a = await new OutlineWriter().WriteAsync(request, CancellationToken.None);
        var b = await new OutlineWriter().WriteAsync(request, CancellationToken.None);
        Assert.Equal(a, b with { Keywords = a.Keywords });
        Assert.Equal(a.Keywords, b.Keywords);
        Assert.StartsWith(OutlineWriter.DraftMarker, a.Content, StringComparison.Ordinal);
        Assert.Contains("new bakers", a.Content, StringComparison.Ordinal);
        Assert.Contains("playful", a.Content, StringComparison.Ordinal);
        Assert.Equal(6, a.Content.Split("\n## ").Length - 3); // 1500 words: six sections besides introduction and conclusion
        Assert.False(string.IsNullOrWhiteSpace(a.ImagePrompt));
        Assert.Contains("Making Muffins", a.ImageAlt, StringComparison.Ordinal);
        Assert.Contains("muffins", a.Keywords);
    }
}

public sealed class TitleCardTests
{
    [Fact]
    public async Task Each_variation_has_its_own_design_and_the_recorded_size()
    {
        var request = new ImageRequest { Prompt = "p", Title = "Making Muffins", Count = 4, Width = 800, Height = 600 };
        var images = await new TitleCardGenerator().GenerateAsync(request, null, CancellationToken.None);
        Assert.Equal(4, images.Count);
        Assert.Equal(4, images.Select(i => Convert.ToHexString(i.Data)).Distinct().Count());
        Assert.All(images, i =>
        {
            Assert.Equal((800, 600), (i.Width, i.Height));
            // A PNG, so that link-preview crawlers show it, of the recorded size.
            Assert.Equal("image/png", i.ContentType);
            using var png = NetVips.Image.NewFromBuffer(i.Data);
            Assert.Equal("pngload_buffer", png.Get("vips-loader"));
            Assert.Equal((800, 600), (png.Width, png.Height));
        });
    }

    [Fact]
    public async Task The_title_is_drawn_as_pixels_not_just_a_background()
    {
        var request = new ImageRequest { Prompt = "p", Title = "Making Muffins", Count = 1, Width = 800, Height = 600 };
        var image = (await new TitleCardGenerator().GenerateAsync(request, null, CancellationToken.None))[0];
        using var png = NetVips.Image.NewFromBuffer(image.Data);
        // The card's text row (its middle) has far more contrast than a plain gradient would
        // (green: the first design's background and ink share their red).
        using var band = png.Crop(0, 250, 800, 100).ExtractBand(1);
        Assert.True(band.Deviate() > 20, $"the title row looks empty (deviation {band.Deviate():0.0})");
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("Tom & Jerry's \"Best\" <b>Muffins</b>")]
    [InlineData("]]><!-- --><?xml ?>")]
    [InlineData("bad \u0001 control \ud800 lone surrogate \uffff")]
    public async Task Titles_are_escaped_into_well_formed_svg(string title)
    {
        var text = TitleCardGenerator.Svg(title, 1024, 1024, 1);
        var svg = XDocument.Parse(text);
        // And it renders.
        var images = await new TitleCardGenerator().GenerateAsync(new ImageRequest { Prompt = "p", Title = title }, null, CancellationToken.None);
        Assert.Equal("image/png", images[0].ContentType);
        Assert.DoesNotContain("<script", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(svg.Descendants(), e => e.Name.LocalName is "script" or "b" or "foreignObject");
    }
}

public sealed class PreviewStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("proofsheet-unit-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class FixedTime : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2024, 1, 12, 15, 30, 45, TimeSpan.Zero);
    }

    private string Folder => Path.Combine(_folder, "previews");

    private LocalPreviewStore Store() => new(new AppPaths(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["DataDirectory"] = Path.Combine(_folder, "data"),
        ["Storage:PreviewDirectory"] = Folder,
    }).Build()), new FixedTime(), NullLogger<LocalPreviewStore>.Instance);

    /// <summary>Reads forward only, as a backend decoding straight into the store would write.</summary>
    private sealed class ForwardOnly(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task A_saved_preview_has_a_traceable_name_its_hash_and_no_temporary_file_left()
    {
        var store = Store();
        var bytes = Encoding.UTF8.GetBytes("<svg/>");
        var saved = await store.SaveAsync("titlecard", "0123abcd", 3, new ForwardOnly(bytes), "image/svg+xml", CancellationToken.None);
        Assert.Equal("titlecard_20240112_153045_0123abcd_var3.svg", saved.FileName);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(store.LocalPathOf(saved.FileName)!));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), saved.Sha256);
        Assert.Equal(bytes.Length, saved.ByteSize);
        Assert.Single(Directory.GetFiles(Folder));
        var listed = Assert.Single(await store.ListAsync(CancellationToken.None).ToListAsync());
        Assert.Equal((saved.FileName, bytes.LongLength, false), (listed.FileName, listed.Length, listed.IsTemporary));
        await using var read = await store.OpenAsync(saved.FileName, CancellationToken.None);
        Assert.Equal(bytes.Length, read!.Length);
    }

    [Fact]
    public async Task An_existing_preview_is_never_overwritten()
    {
        var store = Store();
        var first = await store.SaveAsync("sdxl", "task1", 1, new MemoryStream([1, 2, 3]), "image/png", CancellationToken.None);
        await Assert.ThrowsAsync<PreviewStoreException>(() => store.SaveAsync("sdxl", "task1", 1, new MemoryStream([9]), "image/png", CancellationToken.None));
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(store.LocalPathOf(first.FileName)!));
        Assert.DoesNotContain(Directory.GetFiles(Folder), f => f.EndsWith(PreviewNames.TempSuffix, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_preview_is_reported_gone_and_deleting_it_again_is_harmless()
    {
        var store = Store();
        Assert.False(await store.ExistsAsync("sdxl_20240112_153045_task1_var1.png", CancellationToken.None));
        Assert.Null(await store.OpenAsync("sdxl_20240112_153045_task1_var1.png", CancellationToken.None));
        await store.DeleteAsync("sdxl_20240112_153045_task1_var1.png", CancellationToken.None);
    }

    [Theory]
    [InlineData("../escape.png")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/../../x")]
    public void A_file_name_cannot_leave_the_folder(string name) =>
        Assert.Throws<InvalidOperationException>(() => Store().LocalPathOf(name));
}
