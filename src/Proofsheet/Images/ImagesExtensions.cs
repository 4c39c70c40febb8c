namespace Proofsheet.Images;

public static class ImagesExtensions
{
    public static WebApplicationBuilder AddImages(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<ImageOptions>(ImageOptions.Section)
            .Validate(o => o.ProviderChain.Count > 0 && o.ProviderChain.All(KnownGenerators.Contains),
                $"Images:Providers must name one or more of: {string.Join(", ", KnownGenerators)}.")
            .Validate(o => o.DefaultVariations <= o.MaxVariations, "Images:DefaultVariations must not exceed Images:MaxVariations.");
        builder.Services.AddSingleton<PreviewStore>();
        builder.Services.AddSingleton<IImageGenerator, TitleCardGenerator>();
        builder.Services.AddSingleton<ImageGeneratorChain>();
        return builder;
    }

    /// <summary>The image backends that exist; a backend is listed here only once it works.</summary>
    public static readonly string[] KnownGenerators = ["titlecard"];
}
