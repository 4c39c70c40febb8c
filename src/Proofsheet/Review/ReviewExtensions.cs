namespace Proofsheet.Review;

public static class ReviewExtensions
{
    /// <summary>Review links: one task, one decision, no account. Needs <c>AddTasks()</c> and <c>AddHub()</c> (Razor components, antiforgery).</summary>
    public static WebApplicationBuilder AddReviewLinks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ReviewLinks>();
        return builder;
    }
}
