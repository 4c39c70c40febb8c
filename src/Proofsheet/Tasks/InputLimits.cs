namespace Proofsheet.Tasks;

/// <summary>
/// How long each field a person writes may be. The API's validation and the Hub's forms check
/// the same numbers, so a draft that one accepts the other never refuses.
/// </summary>
public static class InputLimits
{
    public const int TopicMin = 3;
    public const int Topic = 500;
    public const int Tone = 100;
    public const int Audience = 200;
    public const int Title = 200;
    public const int Excerpt = 1000;
    public const int Content = 200_000;
    public const int Prompt = 2000;
    public const int ImageAlt = 500;
    public const int MetaDescription = 300;
    public const int Feedback = 5000;
}
