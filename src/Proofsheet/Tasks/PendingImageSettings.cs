using System.Text.Json;

namespace Proofsheet.Tasks;

/// <summary>
/// What "more like this" keeps of the candidate it starts from: everything that shaped it but the seed.
/// Stored on the task while its images are pending, so the pipeline (on whichever node) draws with them.
/// </summary>
public sealed record PendingImageSettings(string Prompt, string? NegativePrompt, string Source, int Width, int Height)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static PendingImageSettings? FromJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<PendingImageSettings>(json, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public Images.GenerationOverrides ToOverrides() => new()
    {
        Prompt = Prompt,
        NegativePrompt = NegativePrompt,
        Source = Source,
        Width = Width,
        Height = Height,
    };
}
