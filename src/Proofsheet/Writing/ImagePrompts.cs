using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Proofsheet.Writing;

/// <summary>What a reviewer said about a round of images, and the prompt that made them.</summary>
public sealed record ImagePromptRequest(string Prompt, string Feedback, string? Title, string? Topic);

/// <summary>
/// A writer that can turn a reviewer's feedback into a new image prompt (the model writers). The
/// offline <c>outline</c> writer cannot, and the feedback stays a hint of what to avoid.
/// </summary>
public interface IImagePromptWriter
{
    /// <returns>The new prompt, at most <see cref="Tasks.InputLimits.Prompt"/> characters.</returns>
    /// <exception cref="WriterException">The service failed or did not answer with a prompt.</exception>
    Task<string> RewriteImagePromptAsync(ImagePromptRequest request, CancellationToken cancellationToken);
}

/// <summary>The JSON a model answers a prompt rewrite with, the words that ask for it, and its parser.</summary>
internal static class ImagePromptJson
{
    public const string SchemaName = "image_prompt";

    public static JsonObject Schema() => new()
    {
        ["type"] = "object",
        ["additionalProperties"] = false,
        ["required"] = new JsonArray("image_prompt"),
        ["properties"] = new JsonObject
        {
            ["image_prompt"] = new JsonObject
            {
                ["type"] = "string",
                ["description"] = "The rewritten prompt for the image generator.",
            },
        },
    };

    public const string SystemPrompt =
        "You write prompts for an image generator that makes the featured image of a blog post. " +
        "A reviewer rejected the last images and said why. Rewrite the prompt so the next images do what the reviewer asks, " +
        "keeping everything the feedback does not ask to change. Describe what should be in the picture rather than what should not; " +
        "no text, letters or logos in the image. Answer with one JSON object with the field image_prompt and nothing else.";

    public static string UserPrompt(ImagePromptRequest request)
    {
        var sb = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(request.Title))
        {
            sb.Append("The post: ").AppendLine(request.Title.Trim());
        }
        else if (!string.IsNullOrWhiteSpace(request.Topic))
        {
            sb.Append("The post's topic: ").AppendLine(request.Topic.Trim());
        }
        sb.Append("The prompt that made the rejected images: ").AppendLine(request.Prompt.Trim());
        sb.Append("The reviewer's feedback: ").AppendLine(request.Feedback.Trim());
        sb.Append("Keep the new prompt under ").Append(Tasks.InputLimits.Prompt).AppendLine(" characters.");
        return sb.ToString();
    }

    /// <exception cref="FormatException">Not the object the schema asks for.</exception>
    public static string Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("image_prompt", out var value)
            || value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            throw new FormatException("the answer had no image_prompt text");
        }
        var prompt = value.GetString()!.Trim();
        return prompt.Length > Tasks.InputLimits.Prompt ? prompt[..Tasks.InputLimits.Prompt] : prompt;
    }

    /// <exception cref="FormatException">Not JSON, or not the object the schema asks for.</exception>
    public static string ParseText(string? text)
    {
        var json = (text ?? "").Trim();
        if (json.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLine = json.IndexOf('\n', StringComparison.Ordinal);
            var close = json.LastIndexOf("```", StringComparison.Ordinal);
            if (firstLine > 0 && close > firstLine)
            {
                json = json[(firstLine + 1)..close].Trim();
            }
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Parse(doc.RootElement);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"the answer was not valid JSON ({ex.Message})", ex);
        }
    }
}
