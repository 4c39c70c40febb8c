using System.Text.Json.Nodes;

namespace Proofsheet.IntegrationTests.Writing;

/// <summary>A well-formed article answer, as a model following the schema would give it.</summary>
internal static class StandInArticle
{
    public static JsonObject Json() => new()
    {
        ["title"] = "Baking Sourdough at Home",
        ["excerpt"] = "A patient, practical guide to your first loaf.",
        ["content"] = "Sourdough rewards patience.\n\n## The starter\n\nFeed it daily.\n\n## The bake\n\nPreheat the pot.",
        ["meta_description"] = "How to bake sourdough at home, from starter to crust.",
        ["keywords"] = new JsonArray("sourdough", "bread", "baking"),
        ["image_prompt"] = "A rustic sourdough loaf on a wooden board, morning light, shallow depth of field",
        ["image_alt"] = "A freshly baked sourdough loaf on a wooden board",
    };

    public static string Text() => Json().ToJsonString();
}
