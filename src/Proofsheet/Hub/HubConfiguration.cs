namespace Proofsheet.Hub;

/// <summary>The configuration in force, for the health page, with every secret masked.</summary>
public static class HubConfiguration
{
    private static readonly string[] Sections = ["Database", "ConnectionStrings", "DataDirectory", "Storage", "Content", "Images", "Publishing", "Posts", "Pipeline", "Webhooks", "Auth", "Email"];
    private static readonly string[] SecretWords = ["key", "secret", "password", "token", "connectionstrings"];

    public static IReadOnlyList<KeyValuePair<string, string>> Describe(IConfiguration configuration) =>
        configuration.AsEnumerable()
            .Where(kv => kv.Value is not null && Sections.Any(s => kv.Key.Equals(s, StringComparison.OrdinalIgnoreCase) || kv.Key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase)))
            .OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase)
            .Select(kv => new KeyValuePair<string, string>(kv.Key, IsSecret(kv.Key) ? Mask(kv.Value!) : kv.Value!))
            .ToList();

    /// <summary>Any key naming a key, secret, password or token, and connection strings (which carry passwords).</summary>
    public static bool IsSecret(string key) => SecretWords.Any(w => key.Contains(w, StringComparison.OrdinalIgnoreCase));

    private static string Mask(string value) => value.Length == 0 ? "(empty)" : "•••••• (set)";
}
